import FoundationEssentials
import TraceModel

/// Applies a list of actions to an attribute list, in order, the way the collector does
/// (deletes move the last attribute into the freed slot; hashes are lower-hex SHA-256).
struct AttributeActionRunner: Sendable {
    let actions: [AttributeAction]

    /// Which delete and hash actions apply to an attribute key. Bit `a`: action `a`.
    struct KeyActions: Sendable {
        /// The action's `key` is this key.
        var byKey: UInt64 = 0
        /// The action's `pattern` matches this key.
        var byPattern: UInt64 = 0

        var any: UInt64 { byKey | byPattern }

        static func |= (a: inout KeyActions, b: KeyActions) {
            a.byKey |= b.byKey
            a.byPattern |= b.byPattern
        }
    }

    /// What each key is to the actions: keys repeat in every span.
    let keyCache = KeyCache<KeyActions>()
    /// Up to 64 actions are tracked per key with bit masks; longer lists test each key directly.
    let masked: Bool

    init(_ actions: [AttributeAction]) {
        self.actions = actions
        masked = actions.count <= 64
    }

    private func keyActions(_ key: String, _ memo: inout KeyMemo<KeyActions>) -> KeyActions {
        memo.value(for: key) {
            keyCache.value(for: key) {
                var m = KeyActions()
                for (a, action) in actions.enumerated() where action.kind == .delete || action.kind == .hash {
                    if action.key == key { m.byKey |= 1 << UInt64(a) }
                    if let p = action.pattern, p.matches(key) { m.byPattern |= 1 << UInt64(a) }
                }
                return m
            }
        }
    }

    /// Working memory of one request: key decisions, and each attribute's actions as the list
    /// is worked on.
    struct Scratch {
        var memo = KeyMemo<KeyActions>()
        var masks: [KeyActions] = []
    }

    func apply(to attrs: inout [KeyValue], metadata: [String: [String]] = [:]) {
        var scratch = Scratch()
        apply(to: &attrs, metadata: metadata, scratch: &scratch)
    }

    /// `scratch` carries key decisions from one attribute list to the next within a request.
    func apply(to attrs: inout [KeyValue], metadata: [String: [String]], scratch: inout Scratch) {
        // Each attribute's delete and hash actions, looked up once and kept in step with the
        // list (`masks[j]` belongs to `attrs[j]`), and their union: an action that names no key
        // present skips the list without comparing a key (most attributes are not what a
        // scrubbing action looks for).
        var present = KeyActions()
        if masked {
            scratch.masks.removeAll(keepingCapacity: true)
            for j in attrs.indices {
                let m = keyActions(attrs[j].key, &scratch.memo)
                scratch.masks.append(m)
                present |= m
            }
        }
        func added(_ key: String) {
            guard masked else { return }
            let m = keyActions(key, &scratch.memo)
            scratch.masks.append(m)
            present |= m
        }
        // Fields are read through the array, not a copy of each action (a copy retains all of them).
        for i in actions.indices {
            let bit: UInt64 = masked ? 1 << UInt64(i) : 0
            switch actions[i].kind {
            case .insert, .update, .upsert:
                guard let key = actions[i].key, let v = value(actions[i], attrs, metadata) else { continue }
                let index = attrs.firstIndex { $0.key == key }
                switch (actions[i].kind, index) {
                case (.insert, nil), (.upsert, nil):
                    attrs.append(KeyValue(key, v))
                    added(key)
                case (.update, let j?), (.upsert, let j?): attrs[j].value = v
                default: break
                }
            case .delete:
                // By key the collector swap-removes; by pattern it removes in place (order kept).
                if masked {
                    guard present.any & bit != 0 else { continue }
                    if present.byKey & bit != 0 { Self.swapRemove(&attrs, &scratch.masks) { $0.byKey & bit != 0 } }
                    if present.byPattern & bit != 0 { Self.stableRemove(&attrs, &scratch.masks) { $0.byPattern & bit != 0 } }
                    present = scratch.masks.reduce(into: KeyActions()) { $0 |= $1 }
                } else {
                    if let key = actions[i].key { Self.swapRemove(&attrs) { $0.key == key } }
                    if let p = actions[i].pattern { attrs.removeAll { p.matches($0.key) } }
                }
            case .hash:
                if masked {
                    guard present.any & bit != 0 else { continue }
                    for j in attrs.indices where scratch.masks[j].any & bit != 0 {
                        attrs[j].value = .string(Self.sha256(attrs[j].value))
                    }
                } else {
                    for j in attrs.indices where attrs[j].key == actions[i].key || actions[i].pattern?.matches(attrs[j].key) == true {
                        attrs[j].value = .string(Self.sha256(attrs[j].value))
                    }
                }
            case .extract:
                guard let key = actions[i].key, let p = actions[i].pattern, let source = attrs[attribute: key]?.stringValue else { continue }
                guard let m = p.firstMatch(in: source) else { continue }
                let utf8 = Array(source.utf8)
                for g in m.named {
                    let name = g.name
                    guard let r = g.range else { continue }
                    let v = AnyValue.string(String(decoding: utf8[r], as: UTF8.self))
                    if let j = attrs.firstIndex(where: { $0.key == name }) {
                        attrs[j].value = v
                    } else {
                        attrs.append(KeyValue(name, v))
                        added(name)
                    }
                }
            case .convert:
                guard let key = actions[i].key, let j = attrs.firstIndex(where: { $0.key == key }), let t = actions[i].convertedType else { continue }
                if let converted = Self.convert(attrs[j].value, to: t) { attrs[j].value = converted }
            }
        }
    }

    private func value(_ a: AttributeAction, _ attrs: [KeyValue], _ metadata: [String: [String]]) -> AnyValue? {
        switch a.source {
        case .value(let v): return v
        case .fromAttribute(let k): return attrs[attribute: k] ?? a.defaultValue
        case .fromContext(let k):
            let name = k.hasPrefix("metadata.") ? String(k.dropFirst("metadata.".count)) : k
            if let vs = metadata[name.lowercased()], !vs.isEmpty { return .string(vs.joined(separator: ";")) }
            return a.defaultValue
        case nil: return a.defaultValue
        }
    }

    /// Removes the attributes whose mask matches by moving the last one into each freed slot,
    /// keeping `masks` in step.
    static func swapRemove(_ attrs: inout [KeyValue], _ masks: inout [KeyActions], where match: (KeyActions) -> Bool) {
        var i = 0
        while i < attrs.count {
            if match(masks[i]) {
                attrs.swapAt(i, attrs.count - 1)
                masks.swapAt(i, masks.count - 1)
                attrs.removeLast()
                masks.removeLast()
            } else {
                i += 1
            }
        }
    }

    /// Removes the attributes whose mask matches, the others keeping their order, and `masks`
    /// in step (swaps, so no attribute is copied).
    static func stableRemove(_ attrs: inout [KeyValue], _ masks: inout [KeyActions], where match: (KeyActions) -> Bool) {
        var kept = 0
        for r in attrs.indices where !match(masks[r]) {
            if kept != r {
                attrs.swapAt(kept, r)
                masks.swapAt(kept, r)
            }
            kept += 1
        }
        attrs.removeLast(attrs.count - kept)
        masks.removeLast(masks.count - kept)
    }

    /// Removes matching attributes by moving the last one into each freed slot.
    static func swapRemove(_ attrs: inout [KeyValue], where match: (KeyValue) -> Bool) {
        var i = 0
        while i < attrs.count {
            if match(attrs[i]) {
                attrs[i] = attrs[attrs.count - 1]
                attrs.removeLast()
            } else {
                i += 1
            }
        }
    }

    /// The collector's hash input per type: UTF-8 for strings, 8 little-endian bytes for
    /// numbers, one byte for booleans; bytes, lists and maps hash to the empty string.
    static func sha256(_ v: AnyValue) -> String {
        switch v {
        case .string(let s): return Digest.hex(.sha256, of: s)
        case .int(let i): return withUnsafeBytes(of: i.littleEndian) { Digest.hex(.sha256, of: $0) }
        case .double(let d): return withUnsafeBytes(of: d.bitPattern.littleEndian) { Digest.hex(.sha256, of: $0) }
        case .bool(let b): return withUnsafeBytes(of: UInt8(b ? 1 : 0)) { Digest.hex(.sha256, of: $0) }
        default: return ""
        }
    }

    static func convert(_ v: AnyValue, to type: String) -> AnyValue? {
        switch (type, v) {
        case ("int", .string(let s)): return Int64(s).map { .int($0) }
        case ("int", .double(let d)): return d.isFinite ? .int(Int64(d.rounded(.towardZero))) : nil
        case ("int", .bool(let b)): return .int(b ? 1 : 0)
        case ("int", .int): return v
        case ("double", .string(let s)): return Double(s).map { .double($0) }
        case ("double", .int(let i)): return .double(Double(i))
        case ("double", .bool(let b)): return .double(b ? 1 : 0)
        case ("double", .double): return v
        case ("string", _): return .string(asString(v))
        default: return nil
        }
    }

    /// pdata's AsString: numbers as Go prints them, bytes as base64, lists and maps as JSON.
    static func asString(_ v: AnyValue) -> String {
        switch v {
        case .string(let s): return s
        case .empty: return ""
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return String(i)
        case .double(let d): return TraceTextFormat.number(d)
        case .bytes(let b): return Base64.encode(b)
        case .array, .kvlist: return TraceTextFormat.rawJSON(v)
        }
    }
}
