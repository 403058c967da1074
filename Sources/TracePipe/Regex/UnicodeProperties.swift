/// The Unicode data behind `\p{…}` and `(?i)`, read from `UnicodeTables` on first use (no ICU):
/// Go's general categories (two-letter, and one-letter unions), its scripts, and case-folding
/// orbits.
enum UnicodeProperties {
    /// Code-point ranges by property name (`Lu`, `L`, `Greek`, `Any`, …).
    static let byName: [String: [ClosedRange<UInt32>]] = {
        var out: [String: [ClosedRange<UInt32>]] = [:]
        for line in UnicodeTables.properties.split(separator: "\n") {
            guard let eq = line.firstIndex(of: "=") else { continue }
            let name = String(line[..<eq])
            out[name] = line[line.index(after: eq)...].split(separator: ",").compactMap { pair in
                let ends = pair.split(separator: "-")
                guard ends.count == 2, let lo = UInt32(ends[0], radix: 16), let hi = UInt32(ends[1], radix: 16) else { return nil }
                return lo...hi
            }
        }
        // One-letter categories are the union of their two-letter ones (Go's C leaves out Cn).
        for letter in ["C", "L", "M", "N", "P", "S", "Z"] {
            let parts = out.filter { $0.key.count == 2 && $0.key.hasPrefix(letter) }.flatMap(\.value)
            out[letter] = CharClass.normalized(parts)
        }
        out["Any"] = [0...CharClass.maxScalar]
        return out
    }()

    /// For each code point that has other cases, the other members of its orbit.
    static let foldOrbits: [(UInt32, [UInt32])] = {
        var out: [(UInt32, [UInt32])] = []
        for line in UnicodeTables.foldOrbits.split(separator: "\n") {
            let members = line.split(separator: " ").compactMap { UInt32($0, radix: 16) }
            for m in members { out.append((m, members.filter { $0 != m })) }
        }
        return out
    }()

    /// The class named by `\p{name}`, nil when Go knows no such name.
    static func named(_ name: String) -> CharClass? {
        byName[name].map { CharClass(codePoints: $0) }
    }
}
