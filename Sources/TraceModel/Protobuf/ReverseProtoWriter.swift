/// Writes protobuf back to front: a message's fields first, then its length and tag in front of
/// them. Lengths are therefore known when they are written (no sizing pass, no shifting), and
/// writing fields in ascending order yields the descending-field layout the collector's own
/// marshaller (gogo-style `MarshalToSizedBuffer`) produces, so our bytes match its bytes.
struct ReverseProtoWriter: ~Copyable {
    private var storage: UnsafeMutableRawPointer
    private var capacity: Int
    /// Index of the first written byte; the output is `storage[position..<capacity]`.
    private var position: Int

    init(capacity: Int) {
        let c = max(64, capacity)
        storage = .allocate(byteCount: c, alignment: 8)
        self.capacity = c
        position = c
    }

    /// Writes into `reused`'s memory when it holds at least `capacity` bytes (else into fresh
    /// memory); `give(to:keepingAtMost:)` hands the memory back afterwards.
    init(capacity: Int, reusing reused: ProtobufEncodeStorage) {
        if let p = reused.pointer, reused.capacity >= capacity {
            storage = p
            self.capacity = reused.capacity
        } else {
            reused.pointer?.deallocate()
            let c = max(64, capacity)
            storage = .allocate(byteCount: c, alignment: 8)
            self.capacity = c
        }
        reused.pointer = nil
        reused.capacity = 0
        position = self.capacity
    }

    deinit {
        storage.deallocate()
    }

    /// Ends the writer, leaving its memory in `reused` for the next one unless it grew beyond
    /// `limit` bytes (one unusually large batch should not pin its buffer for good).
    consuming func give(to reused: ProtobufEncodeStorage, keepingAtMost limit: Int) {
        if capacity <= limit {
            reused.pointer = storage
            reused.capacity = capacity
        } else {
            storage.deallocate()
        }
        discard self
    }

    /// Bytes written so far.
    @inline(__always) var count: Int { capacity &- position }

    @inline(__always) mutating func reserve(_ n: Int) {
        if position < n { grow(n) }
    }

    private mutating func grow(_ n: Int) {
        let used = count
        var newCapacity = capacity * 2
        while newCapacity - used < n { newCapacity *= 2 }
        let fresh = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 8)
        fresh.advanced(by: newCapacity - used).copyMemory(from: storage.advanced(by: position), byteCount: used)
        storage.deallocate()
        storage = fresh
        capacity = newCapacity
        position = newCapacity - used
    }

    @inline(__always) mutating func byte(_ b: UInt8) {
        reserve(1)
        position &-= 1
        storage.storeBytes(of: b, toByteOffset: position, as: UInt8.self)
    }

    @inline(__always) mutating func varint(_ v: UInt64) {
        if v < 0x80 {
            byte(UInt8(truncatingIfNeeded: v))
            return
        }
        let n = ProtoWire.varintSize(v)
        reserve(n)
        position &-= n
        var x = v
        var i = position
        while x >= 0x80 {
            storage.storeBytes(of: UInt8(truncatingIfNeeded: x) | 0x80, toByteOffset: i, as: UInt8.self)
            x >>= 7
            i &+= 1
        }
        storage.storeBytes(of: UInt8(truncatingIfNeeded: x), toByteOffset: i, as: UInt8.self)
    }

    @inline(__always) mutating func fixed64(_ v: UInt64) {
        reserve(8)
        position &-= 8
        storage.storeBytes(of: v.littleEndian, toByteOffset: position, as: UInt64.self)
    }

    @inline(__always) mutating func fixed32(_ v: UInt32) {
        reserve(4)
        position &-= 4
        storage.storeBytes(of: v.littleEndian, toByteOffset: position, as: UInt32.self)
    }

    @inline(__always) mutating func bigEndian64(_ v: UInt64) {
        reserve(8)
        position &-= 8
        storage.storeBytes(of: v.bigEndian, toByteOffset: position, as: UInt64.self)
    }

    @inline(__always) mutating func raw(_ bytes: UnsafeRawBufferPointer) {
        let n = bytes.count
        guard n > 0 else { return }
        reserve(n)
        position &-= n
        storage.advanced(by: position).copyMemory(from: bytes.baseAddress!, byteCount: n)
    }

    /// Tag of a field: number and wire type.
    @inline(__always) mutating func tag(_ field: UInt32, _ wire: UInt8) {
        varint(UInt64(field) << 3 | UInt64(wire))
    }

    /// Closes a length-delimited field whose content was written since `count` was `start`.
    @inline(__always) mutating func lengthDelimited(_ field: UInt32, since start: Int) {
        varint(UInt64(count &- start))
        tag(field, 2)
    }

    @inline(__always)
    mutating func string(_ field: UInt32, _ s: borrowing String) {
        let start = count
        // Borrow the string's bytes in place (no copy of the String value itself).
        let copied: Void? = s.utf8.withContiguousStorageIfAvailable { raw(UnsafeRawBufferPointer($0)) }
        if copied == nil {
            var t = copy s
            t.withUTF8 { raw(UnsafeRawBufferPointer($0)) }
        }
        lengthDelimited(field, since: start)
    }

    /// Copies the output out.
    func bytes() -> [UInt8] {
        [UInt8](UnsafeRawBufferPointer(start: storage.advanced(by: position), count: count))
    }

    func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: storage.advanced(by: position), count: count))
    }
}

enum ProtoWire {
    @inline(__always) static func varintSize(_ v: UInt64) -> Int {
        // 1 byte per started group of 7 bits; 0 needs one byte.
        let bits = 64 &- (v | 1).leadingZeroBitCount
        return (bits &+ 6) / 7
    }
}
