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
    let whole = parseAll(bytes, limits: limits, pieces: 1)
    // The same bytes arriving a few at a time must give the same requests and the same end.
    let split = parseAll(bytes, limits: limits, pieces: 1 + (size > 0 ? Int(bytes[0] % 7) : 0))
    precondition(whole == split, "the parser's answer depends on how the bytes were split")
    return 0
}

struct Run: Equatable {
    var requests: [HTTPRequest] = []
    var end: String = ""
}

func parseAll(_ bytes: [UInt8], limits: RequestParser.Limits, pieces: Int) -> Run {
    var parser = RequestParser(limits: limits)
    var run = Run()
    var buffer: [UInt8] = []
    var offset = 0
    let step = max(1, bytes.count / pieces)
    while true {
        // Deliver the next piece, then parse everything that is complete.
        let next = min(bytes.count, offset + step)
        buffer.append(contentsOf: bytes[offset..<next])
        offset = next
        parsing: while !buffer.isEmpty {
            switch parser.parse(buffer) {
            case .needMore, .continueExpected:
                break parsing
            case .failure(let f):
                precondition([400, 411, 413, 431].contains(f.status), "unexpected status \(f.status)")
                run.end = "failure \(f.status)"
                return run
            case .request(let r, let consumed):
                precondition(consumed > 0 && consumed <= buffer.count, "consumed \(consumed) of \(buffer.count)")
                precondition(r.body.count <= limits.maxBodyBytes)
                buffer.removeFirst(consumed)
                inspect(r)
                run.requests.append(r)
            }
        }
        if offset == bytes.count { break }
    }
    run.end = "need more \(buffer.count)"
    return run
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
