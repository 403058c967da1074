extension StringProtocol {
    /// Without leading and trailing spaces and tabs (Unicode space separators and tab: what
    /// Foundation's `CharacterSet.whitespaces` holds), from the standard library's own
    /// character properties: Foundation's character sets load CoreFoundation's Unicode bitmaps
    /// into memory at first use.
    func trimmingSpaces() -> String {
        trimming { $0 == "\t" || $0.properties.generalCategory == .spaceSeparator }
    }

    /// Without leading and trailing white space, line breaks included (as
    /// `CharacterSet.whitespacesAndNewlines`).
    func trimmingWhitespace() -> String {
        trimming { $0.properties.isWhitespace }
    }

    private func trimming(_ drop: (Unicode.Scalar) -> Bool) -> String {
        let scalars = String(self).unicodeScalars
        guard let first = scalars.firstIndex(where: { !drop($0) }) else { return "" }
        let last = scalars.lastIndex(where: { !drop($0) })!
        return String(scalars[first...last])
    }
}
