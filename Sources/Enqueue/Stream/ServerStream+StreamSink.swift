import HTTPServer

/// An open connection of the HTTP server is where the hub's bytes go.
extension ServerStream: StreamSink {}
