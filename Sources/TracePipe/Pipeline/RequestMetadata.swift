/// The collector's "client metadata": headers of the request being processed, by lower-cased
/// name, when the receiver has `include_metadata: true` (empty otherwise).
///
/// It travels with the request through the pipeline as a task-local value. A batch processor
/// ends that journey unless its `metadata_keys` name the keys to keep: its batches go on
/// carrying exactly those keys (one batch per distinct combination of their values), and an
/// exporter's authenticator (`headers_setter`) reads them to set per-request headers such as a
/// tenant's `X-Scope-OrgID`.
public enum RequestMetadata {
    @TaskLocal public static var current: [String: [String]] = [:]

    /// The entries of `metadata` named by `keys` (lower-cased names). A missing key stays
    /// missing, so "no header" and "an empty header" remain different combinations.
    public static func subset(_ metadata: [String: [String]], keys: [String]) -> [String: [String]] {
        var out: [String: [String]] = [:]
        for key in keys {
            if let values = metadata[key] { out[key] = values }
        }
        return out
    }

    /// Lower-cased, de-duplicated keys, for lookups in metadata (whose names are lower-cased).
    public static func normalized(_ keys: [String]) -> [String] {
        var seen = Set<String>()
        return keys.map { $0.lowercased() }.filter { seen.insert($0).inserted }
    }

    /// The first key that repeats another ignoring case, for the collector's config error.
    public static func caseInsensitiveDuplicate(in keys: [String]) -> String? {
        var seen = Set<String>()
        return keys.first { !seen.insert($0.lowercased()).inserted }
    }
}
