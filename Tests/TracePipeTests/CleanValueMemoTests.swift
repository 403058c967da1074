import XCTest

@testable import TracePipe

final class CleanValueMemoTests: XCTestCase {
    /// A live string that was never inserted is never reported, whatever was inserted before
    /// (more strings than slots, short ones held in the words, long ones on the heap, and equal
    /// text in storage of its own); the string inserted last always is.
    func testReportsOnlyInsertedStrings() {
        var memo = CleanValueMemo(size: 64)
        let inserted = (0..<1000).map { i in i % 3 == 0 ? "v\(i)" : "a value long enough for the heap, number \(i)" }
        // Kept alive for the whole test: equal words must mean the same string.
        let others = (0..<1000).map { i in i % 3 == 0 ? "w\(i)" : "another value long enough for the heap, number \(i)" }
        let copies = inserted.filter { $0.utf8.count > 15 }.map { String(decoding: Array($0.utf8), as: UTF8.self) }
        for s in inserted {
            memo.insert(s)
            XCTAssertTrue(memo.contains(s), s)
        }
        for s in others { XCTAssertFalse(memo.contains(s), s) }
        // Same text, other storage: not recognised (only costs a second look, never a wrong answer).
        XCTAssertFalse(copies.contains { memo.contains($0) })
        // Short strings are their own words: equal text is the same string.
        XCTAssertTrue(memo.contains(String(decoding: Array("v999".utf8), as: UTF8.self)))
        XCTAssertFalse(CleanValueMemo().contains(""))
    }
}
