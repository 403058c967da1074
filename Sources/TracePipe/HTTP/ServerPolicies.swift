import NIOHTTP1

/// Wraps a receiver's handler with what its `confighttp` settings add around every request:
/// CORS preflight answers and headers, and the configured extra response headers.
enum ServerPolicies {
    static func wrap(_ settings: HTTPServerSettings, _ inner: @escaping HTTPServer.Handler) -> HTTPServer.Handler {
        let cors = settings.cors
        let extra = settings.responseHeaders
        return { request in
            var response: HTTPResponse
            if let cors, let origin = request.headers.first(name: "Origin") {
                if request.method == .OPTIONS, request.headers.contains(name: "Access-Control-Request-Method") {
                    response = preflight(request, origin: origin, cors: cors)
                } else {
                    response = await inner(request)
                    if cors.allows(origin: origin) {
                        response.headers.replaceOrAdd(name: "Access-Control-Allow-Origin", value: origin)
                        response.headers.replaceOrAdd(name: "Access-Control-Allow-Credentials", value: "true")
                        if !cors.exposedHeaders.isEmpty {
                            response.headers.replaceOrAdd(name: "Access-Control-Expose-Headers", value: cors.exposedHeaders.joined(separator: ", "))
                        }
                    }
                    response.headers.add(name: "Vary", value: "Origin")
                }
            } else {
                response = await inner(request)
            }
            for (k, v) in extra { response.headers.replaceOrAdd(name: k, value: v) }
            return response
        }
    }

    /// A browser asks whether it may POST from `origin` with some headers.
    static func preflight(_ request: HTTPRequest, origin: String, cors: CORSPolicy) -> HTTPResponse {
        var r = HTTPResponse(status: .noContent)
        r.headers.add(name: "Vary", value: "Origin, Access-Control-Request-Method, Access-Control-Request-Headers")
        let method = request.headers.first(name: "Access-Control-Request-Method")?.uppercased() ?? ""
        let requested = (request.headers.first(name: "Access-Control-Request-Headers") ?? "")
            .split(separator: ",").map { $0.trimmingSpaces() }.filter { !$0.isEmpty }
        guard cors.allows(origin: origin), method == "POST", cors.allows(requestedHeaders: requested) else {
            // Without the allow headers the browser refuses the request; nothing else to say.
            return r
        }
        r.headers.add(name: "Access-Control-Allow-Origin", value: origin)
        r.headers.add(name: "Access-Control-Allow-Methods", value: "POST")
        r.headers.add(name: "Access-Control-Allow-Credentials", value: "true")
        if !requested.isEmpty { r.headers.add(name: "Access-Control-Allow-Headers", value: requested.joined(separator: ", ")) }
        if cors.maxAge > 0 { r.headers.add(name: "Access-Control-Max-Age", value: String(cors.maxAge)) }
        return r
    }
}
