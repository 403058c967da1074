import TracePipePlatform
import XCTest

/// The platform readings against what this test process can check for itself.
final class LinuxProcessTests: XCTestCase {
    func testReadsThisProcess() {
        let p = LinuxProcess()
        let rss = p.residentBytes()
        XCTAssertGreaterThan(rss, 1 << 20, "reads this process's RSS from /proc/self/statm")
        XCTAssertGreaterThan(p.anonymousBytes(), 0)
        XCTAssertLessThanOrEqual(p.anonymousBytes(), rss + (1 << 20), "anonymous memory is part of the resident set")
        XCTAssertGreaterThan(p.memoryLimitBytes(), 1 << 26)
        XCTAssertGreaterThan(p.heap().fromSystem, 0)
        p.releaseFreeHeap()
    }

    func testCPUTimeGrowsWithWork() {
        let p = LinuxProcess()
        let before = p.cpuSeconds()
        var x: UInt64 = 1
        let end = ContinuousClock.now + .milliseconds(300)
        while ContinuousClock.now < end { x = x &* 6364136223846793005 &+ 1442695040888963407 }
        XCTAssertNotEqual(x, 0)
        XCTAssertGreaterThan(p.cpuSeconds(), before, "utime + stime from /proc/self/stat")
    }

    func testHeapInUseFollowsAnAllocation() {
        let p = LinuxProcess()
        let before = p.heap().inUse
        let block = UnsafeMutableRawPointer.allocate(byteCount: 64 << 20, alignment: 16)
        defer { block.deallocate() }
        XCTAssertGreaterThanOrEqual(p.heap().inUse, before + (64 << 20) - (1 << 20))
    }
}
