import CZlib
import TraceModel

/// The collector's consistent-hash ring (its loadbalancing exporter), so that a fleet mixing
/// tracepipe and collector agents sends each trace to the same backend: 36,000 positions; each
/// endpoint takes 100 points, point `i` at `crc32(endpoint + [i]) % 36000`, a point already
/// taken going to the endpoint listed first; an identifier (the trace id's 16 bytes, or a
/// service name) belongs to the first point at or after `crc32(identifier) % 36000`, wrapping
/// round. Checked against vectors from an independent implementation
/// (`scripts/gen-loadbalancing-vectors.py`).
struct HashRing: Sendable, Equatable {
    static let positions: UInt32 = 36_000
    static let pointsPerEndpoint = 100

    /// The endpoints as given (the resolvers sort them, as the collector's do).
    let endpoints: [String]
    /// Ring points sorted by position: `pointPositions[k]` belongs to `endpoints[pointOwners[k]]`.
    private let pointPositions: [UInt32]
    private let pointOwners: [UInt16]

    init(endpoints: [String]) {
        self.endpoints = endpoints
        var taken = Set<UInt32>()
        var points: [(position: UInt32, owner: UInt16)] = []
        points.reserveCapacity(endpoints.count * Self.pointsPerEndpoint)
        for (owner, endpoint) in endpoints.enumerated() {
            var bytes = Array(endpoint.utf8)
            bytes.append(0)
            for i in 0..<Self.pointsPerEndpoint {
                bytes[bytes.count - 1] = UInt8(truncatingIfNeeded: i)
                let position = Self.crc32(bytes) % Self.positions
                if taken.insert(position).inserted { points.append((position, UInt16(truncatingIfNeeded: owner))) }
            }
        }
        points.sort { $0.position < $1.position }
        pointPositions = points.map(\.position)
        pointOwners = points.map(\.owner)
    }

    var isEmpty: Bool { pointPositions.isEmpty }

    /// Where an identifier's hash lands: the index of its ring point.
    func point(for identifier: UnsafeRawBufferPointer) -> Int {
        point(atPosition: Self.crc32(identifier) % Self.positions)
    }

    func point(for traceID: TraceIDBytes) -> Int {
        withUnsafeBytes(of: traceID.storage) { point(for: $0) }
    }

    /// The first point at or after `position`, else the first point (the wrap).
    func point(atPosition position: UInt32) -> Int {
        var low = 0
        var high = pointPositions.count
        while low < high {
            let mid = (low + high) / 2
            if pointPositions[mid] < position { low = mid + 1 } else { high = mid }
        }
        return low == pointPositions.count ? 0 : low
    }

    /// The endpoint (index into `endpoints`) owning ring point `k`.
    func owner(ofPoint k: Int) -> Int { Int(pointOwners[k]) }

    /// The endpoint the collector would pick for this identifier.
    func endpoint(for identifier: UnsafeRawBufferPointer) -> Int { owner(ofPoint: point(for: identifier)) }

    /// The first endpoint at or after ring point `k` (walking clockwise) that `isUp` accepts:
    /// failover goes to the successor on the ring, as a removed backend's share does.
    func firstUp(fromPoint k: Int, isUp: (Int) -> Bool) -> Int? {
        let n = pointOwners.count
        var seen = 0
        var i = k
        while seen < n {
            let owner = Int(pointOwners[i])
            if isUp(owner) { return owner }
            i = i + 1 == n ? 0 : i + 1
            seen += 1
        }
        return nil
    }

    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBytes { crc32($0) }
    }

    static func crc32(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        UInt32(truncatingIfNeeded: CZlib.crc32(0, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt32(bytes.count)))
    }
}

/// A trace id as its 16 wire bytes (big-endian halves), for hashing without an array.
struct TraceIDBytes {
    var storage: (UInt64, UInt64)

    init(_ id: TraceID) {
        storage = (id.high.bigEndian, id.low.bigEndian)
    }
}
