// The libFuzzer target on the ingress's request parser (ops/fuzz builds and runs it).
//
// Built only with -DFUZZING and -sanitize=fuzzer,address: SwiftPM links executables with
// `--defsym main=<Module>_main`, which clashes with libFuzzer's own `main`, so this main hands
// control to libFuzzer through LLVMFuzzerRunDriver (SWIFT-ON-LINUX.md, libFuzzer).
#if FUZZING
import Enqueue
import Foundation
import Support

/// One input: parsed whole and fed in pieces, which must agree; every request it yields is
/// taken apart the way the server does (path, query, headers, JSON fields, routing).
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
    return 0
}

let router = Router(Routes.all)

func inspect(_ r: HTTPRequest) {
    _ = r.queryItems
    _ = EndpointRequest(http: r).preferWait
    _ = router.routes.count
    if var fields = try? Fields(body: r.body) {
        _ = try? fields.userID()
        _ = try? fields.positiveInt64("units")
        _ = try? fields.positiveInt64Array("ids", maxCount: 10)
    }
    _ = try? WebhookSignature.verifyStripe(header: r.header("stripe-signature"), body: r.body, secrets: ["whsec_fuzz"])
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
