import Foundation
import NIOConcurrencyHelpers

/// An exclusive lock on a directory, held for as long as a persistent queue uses it: a second
/// tracepipe started on the same directory would read, send and delete the first one's records
/// under it. `flock` on `<directory>/.lock`, so the kernel releases it when the holder dies
/// (kill -9 included) and a restart never finds a stale lock. The file holds the holder's pid,
/// for the refusal message only.
final class DirectoryLock: Sendable {
    struct Busy: Error, CustomStringConvertible {
        var directory: String
        var holder: String?
        var description: String {
            "\(directory) is in use by another tracepipe process\(holder.map { " (pid \($0))" } ?? "") — two processes must not share a queue directory: give each its own file_storage directory"
        }
    }

    struct Failed: Error, CustomStringConvertible {
        var path: String
        var reason: String
        var description: String { "cannot lock \(path): \(reason)" }
    }

    let path: String
    /// -1 once released.
    private let fd: NIOLockedValueBox<Int32>

    init(directory: String) throws {
        path = directory + "/.lock"
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw Failed(path: path, reason: String(cString: strerror(errno))) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let busy = errno == EWOULDBLOCK
            let reason = String(cString: strerror(errno))
            var buffer = [UInt8](repeating: 0, count: 32)
            let n = pread(fd, &buffer, buffer.count, 0)
            close(fd)
            guard busy else { throw Failed(path: path, reason: reason) }
            let holder = n > 0 ? String(decoding: buffer[0..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) : nil
            throw Busy(directory: directory, holder: holder?.isEmpty == false ? holder : nil)
        }
        let pid = Array("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = pwrite(fd, pid, pid.count, 0)
        self.fd = NIOLockedValueBox(fd)
    }

    /// Lets another process take the directory (after shutdown; a crash releases it anyway).
    func release() {
        fd.withLockedValue { fd in
            guard fd >= 0 else { return }
            close(fd)
            fd = -1
        }
    }

    deinit { release() }
}
