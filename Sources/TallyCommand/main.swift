import Foundation
import Support

// `tally`: every command of DESIGN.md, "The command". See Dispatcher for the list.
let code = await Dispatcher.main(Array(CommandLine.arguments.dropFirst()))
Log.flush()
exit(code)
