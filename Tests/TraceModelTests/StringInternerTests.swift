import XCTest

@testable import TraceModel

final class StringInternerTests: XCTestCase {
    private func words(_ s: String) -> (UInt64, UInt64) { unsafeBitCast(s, to: (UInt64, UInt64).self) }

    private func intern(_ text: String, _ interner: inout StringInterner) -> String {
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBytes { interner.string(utf8: $0, overRead: false)! }
    }

    /// A string is cached on its second miss in a row at its slot, and from then on every sight
    /// shares that storage; strings seen once in between (ids, URLs with ids) do not push it out.
    func testRepeatedStringsAreKeptAndStringsSeenOnceDoNotEvictThem() {
        var interner = StringInterner(slots: 64)
        let repeated = "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0"
        let first = intern(repeated, &interner)
        let second = intern(repeated, &interner)
        XCTAssertEqual(first, repeated)
        XCTAssertEqual(second, repeated)
        XCTAssertFalse(words(first) == words(second), "seen once: not cached yet")
        let third = intern(repeated, &interner)
        XCTAssertTrue(words(second) == words(third), "second miss: cached")
        // Far more one-off strings than slots, every one of them decoded right.
        var kept: [String] = []
        for i in 0..<2000 {
            let once = "https://checkout.shop.example.com/api/v1/orders/\(i)"
            let got = intern(once, &interner)
            XCTAssertEqual(got, once)
            kept.append(got)
        }
        XCTAssertTrue(words(intern(repeated, &interner)) == words(second), "one-off strings evicted a repeated one")
    }
}
