import CDeflate
import CZlib

/// CRC-32 (IEEE, as zlib computes it) of the persistent queue's records and the tail-sampling
/// journal's frames: libdeflate's when it is loaded (several times faster: it was 4 % of the CPU
/// of a durable pipeline with zlib's), zlib's otherwise. Both give the same value, so files
/// written with one are read with the other.
enum CRC32 {
    static func checksum(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return crc }
        if let api = tp_deflate_api_get() {
            return UInt32(api.pointee.crc32(UInt32(crc), base, bytes.count))
        }
        return UInt32(crc32(uLong(crc), base.assumingMemoryBound(to: Bytef.self), uInt(bytes.count)))
    }

    static func checksum(_ bytes: [UInt8], continuing crc: UInt32 = 0) -> UInt32 {
        bytes.withUnsafeBytes { checksum($0, continuing: crc) }
    }

    static func checksum(_ bytes: ArraySlice<UInt8>, continuing crc: UInt32 = 0) -> UInt32 {
        bytes.withUnsafeBytes { checksum($0, continuing: crc) }
    }
}
