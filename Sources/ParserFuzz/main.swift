// The libFuzzer target on the HTTP server's request parser and its WebSocket frame parser
// (ops/fuzz builds and runs it).
//
// Built only with -DFUZZING and -sanitize=fuzzer,address: SwiftPM links executables with
// `--defsym main=<Module>_main`, which clashes with libFuzzer's own `main`, so this main hands
// control to libFuzzer through LLVMFuzzerRunDriver (SWIFT-ON-LINUX.md, libFuzzer).
#if FUZZING
import Foundation
import HTTPServer
import Support

/// One input: parsed whole and fed in pieces, which must agree; every request it yields is
/// taken apart the way a server on it does (path, query, headers, JSON body, signature).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let limits = RequestParser.Limits(maxHeaderBytes: 1024, maxHeaderCount: 16, maxBodyBytes: 2048)
    let whole = RequestParser.transcript(of: bytes, pieces: 1, limits: limits)
    // The same bytes arriving a few at a time must give the same requests and the same end.
    let split = RequestParser.transcript(of: bytes, pieces: 1 + (size > 0 ? Int(bytes[0] % 7) : 0), limits: limits)
    precondition(whole == split, "the parser's answer depends on how the bytes were split")
    for r in whole.requests {
        precondition(r.body.count <= limits.maxBodyBytes)
        inspect(r)
    }
    fuzzWebSocketFrames(bytes, pieces: 1 + (size > 1 ? Int(bytes[1] % 5) : 0))
    return 0
}

/// The same bytes as a client's WebSocket frames: whole and in pieces they must give the same
/// events, never a message larger than the limit, and nothing after a failure or a close.
func fuzzWebSocketFrames(_ bytes: [UInt8], pieces: Int) {
    let limit = 1024
    var whole = WebSocketFrameParser(maxMessageBytes: limit)
    let a = whole.parse(bytes)
    var split = WebSocketFrameParser(maxMessageBytes: limit)
    var b: [WebSocketFrameParser.Event] = []
    let step = max(1, bytes.count / pieces)
    var offset = 0
    while offset < bytes.count {
        b += split.parse(Array(bytes[offset..<min(bytes.count, offset + step)]))
        offset += step
    }
    precondition(a == b, "the WebSocket parser's answer depends on how the bytes were split")
    for (i, e) in a.enumerated() {
        switch e {
        case .text(let t): precondition(t.utf8.count <= limit)
        case .binary(let p): precondition(p.count <= limit)
        case .ping(let p), .pong(let p): precondition(p.count <= 125)
        case .close, .failure: precondition(i == a.count - 1, "events after a close or a failure")
        }
    }
}

/// Only what HTTPServer and Support offer: this target does not link the ingress (its field
/// rules and routing sit on these same pieces: path segments percent-decoded, header values
/// trimmed, the body parsed as JSON, Stripe's signature header parsed and checked).
func inspect(_ r: HTTPRequest) {
    _ = r.queryItems
    for segment in r.path.split(separator: "/") { _ = PercentDecoding.decode(segment) }
    for token in (r.header("prefer") ?? "").split(separator: ",") { _ = token.trimmingSpaces }
    if let json = try? JSON.parse(r.body), let members = json.object {
        _ = members["user_id"]?.string
        _ = members["units"]?.numberText.flatMap { Int64($0) }
        _ = members["ids"]?.array?.map(\.int64)
    }
    if let header = r.header("stripe-signature") {
        _ = TimestampedSignature.matches(TimestampedSignature.parse(header), body: r.body, secrets: ["whsec_fuzz"])
    }
}

@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> Int32
) -> Int32

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv, fuzzOne))
#else
print("ParserFuzz does nothing unless built by ops/fuzz (libFuzzer, -DFUZZING).")
#endif
