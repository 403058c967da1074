import XCTest

@testable import TracePipe

final class KeyMemoTests: XCTestCase {
    /// Whatever the keys (short ones held in the string's own words, long ones on the heap,
    /// equal texts in distinct storage, more keys than slots), a lookup answers that key's value.
    func testAnswersEachKeysOwnValue() {
        var memo = KeyMemo<Int>()
        let keys = (0..<300).map { i in i % 2 == 0 ? "k\(i)" : "a.long.attribute.key.number.\(i)" }
        // The same texts again in storage of their own.
        let copies = keys.map { String(decoding: Array($0.utf8), as: UTF8.self) }
        var computed = 0
        for round in 0..<3 {
            for (i, key) in (round == 1 ? copies : keys).enumerated() {
                let v = memo.value(for: key) {
                    computed += 1
                    return i
                }
                XCTAssertEqual(v, i, key)
            }
        }
        XCTAssertGreaterThanOrEqual(computed, keys.count)
        // A request's few dozen keys: after the first sight, nearly all come from the memo.
        var small = KeyMemo<Int>()
        let few = Array(keys.prefix(30))
        computed = 0
        for _ in 0..<10 {
            for (i, key) in few.enumerated() {
                XCTAssertEqual(small.value(for: key) { computed += 1; return i }, i)
            }
        }
        XCTAssertLessThan(computed, 60, "30 keys, 10 rounds: the memo should not thrash")
    }
}
