@testable import TracePipe
import XCTest

final class StartupPagesTests: XCTestCase {
    /// A static PIE as lld lays it out: read-only data, code, relocated read-only data (a private
    /// copy once relocated), writable data; plus libc and the heap.
    let maps = """
        5650c35c1000-5650c3b13000 r--p 00000000 fe:00 16220276                   /opt/tracepipe/bin/tracepipe
        5650c3b13000-5650c505a000 r-xp 00551000 fe:00 16220276                   /opt/tracepipe/bin/tracepipe
        5650c505a000-5650c5147000 r--p 01a97000 fe:00 16220276                   /opt/tracepipe/bin/tracepipe
        5650c5147000-5650c760b000 rw-p 01b83000 fe:00 16220276                   /opt/tracepipe/bin/tracepipe
        5650c8000000-5650c8100000 rw-p 00000000 00:00 0                          [heap]
        7f1e2a000000-7f1e2a028000 r--p 00000000 fe:00 1234                       /usr/lib/x86_64-linux-gnu/libc.so.6
        7f1e2a028000-7f1e2a19d000 r-xp 00028000 fe:00 1234                       /usr/lib/x86_64-linux-gnu/libc.so.6
        """

    func testTakesTheExecutablesReadOnlySegmentsUpToItsCode() {
        XCTAssertEqual(StartupPages.ranges(maps: maps, executable: "/opt/tracepipe/bin/tracepipe"), [
            .init(start: 0x5650c35c1000, length: 0x5650c3b13000 - 0x5650c35c1000),
            .init(start: 0x5650c3b13000, length: 0x5650c505a000 - 0x5650c3b13000),
        ])
    }

    func testPathsWithSpacesAndOtherFilesAndNoCode() {
        let spaced = maps.replacingOccurrences(of: "/opt/tracepipe/bin/tracepipe", with: "/opt/my apps/tracepipe")
        XCTAssertEqual(StartupPages.ranges(maps: spaced, executable: "/opt/my apps/tracepipe").count, 2)
        // A replaced binary shows as "(deleted)": not the running path, nothing is touched.
        XCTAssertEqual(StartupPages.ranges(maps: maps, executable: "/opt/tracepipe/bin/tracepipe (old)"), [])
        XCTAssertEqual(StartupPages.ranges(maps: "", executable: "/x"), [])
        XCTAssertEqual(StartupPages.ranges(maps: "garbage line\n1-2 r-xp zz", executable: "/x"), [])
    }

    /// Unmapping this test binary's own code and read-only data: it runs on (the pages come
    /// back), and its constants read the same afterwards.
    func testReleasingThisProcesssPagesKeepsItRunning() {
        #if os(Linux)
        let before = String(describing: maps.utf8.reduce(0) { $0 &* 31 &+ Int($1) })
        XCTAssertGreaterThan(StartupPages.release(), 0)
        XCTAssertEqual(String(describing: maps.utf8.reduce(0) { $0 &* 31 &+ Int($1) }), before)
        #endif
    }
}
