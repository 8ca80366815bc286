import Foundation
import Support

// `tally`: every command of DESIGN.md, "The command". See Dispatcher for the list.
// Top-level code runs on the main actor, and so does Dispatcher.main: one-shot commands block
// the main thread on libpq, not Swift's cooperative pool.
let code = await Dispatcher.main(Array(CommandLine.arguments.dropFirst()))
Log.flush()
exit(code)
