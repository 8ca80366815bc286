import Foundation
import Support

extension Browser {
    /// Sets the page's size (CSS pixels) for what follows, as a window of that size would.
    public func setViewport(width: Int, height: Int) throws {
        try command("Emulation.setDeviceMetricsOverride", ["width": .int(Int64(width)), "height": .int(Int64(height)),
                                                           "deviceScaleFactor": 1, "mobile": false])
    }

    /// A PNG of the page as it is now (the viewport; `fullPage`: the whole document).
    public func screenshot(fullPage: Bool = true) throws -> Data {
        let result = try command("Page.captureScreenshot", ["format": "png", "captureBeyondViewport": .bool(fullPage)])
        guard let base64 = result["data"]?.string, let png = Data(base64Encoded: base64) else {
            throw Failure(description: "Page.captureScreenshot returned no image")
        }
        return png
    }
}
