/// `ByteRegex`'s program run breadth-first (Thompson's NFA simulation with submatches, as in
/// RE2's and Go's NFA engines): every thread advances one character at a time, in priority
/// order, so the first thread to match is the leftmost-first match. Linear in text × program
/// with memory independent of the text, for texts too long for the backtracker's state table.
enum PikeVM {
    /// A list of threads for one text position, in priority order, each state at most once.
    private struct ThreadList {
        var pcs: [Int] = []
        var caps: [Int] = []
        let width: Int

        init(width: Int) {
            self.width = width
        }

        mutating func add(_ pc: Int, _ c: UnsafeMutableBufferPointer<Int>) {
            pcs.append(pc)
            caps.append(contentsOf: c)
        }

        mutating func clear() {
            pcs.removeAll(keepingCapacity: true)
            caps.removeAll(keepingCapacity: true)
        }
    }

    private enum Step {
        case explore(Int)
        case restore(slot: Int, value: Int)
    }

    /// The leftmost-first match starting at or after `from`, as capture slots.
    static func firstMatch(_ re: ByteRegex, in text: UnsafeBufferPointer<UInt8>, from: Int) -> ByteRegex.Slots? {
        let n = text.count
        let program = re.program
        let width = 2 * (re.groupCount + 1)
        var current = ThreadList(width: width)
        var next = ThreadList(width: width)
        // The generation a state was last added in: one per position's list.
        var mark = [Int](repeating: -1, count: program.count)
        var generation = 0
        var stack: [Step] = []
        var scratch = [Int](repeating: -1, count: width)
        var matched: ByteRegex.Slots?

        /// Follows empty transitions from `pc` at `pos` in priority order, adding the states
        /// that consume a character (or match) to `list`.
        func addThread(_ list: inout ThreadList, _ pc: Int, at pos: Int, caps: UnsafeMutableBufferPointer<Int>) {
            stack.removeAll(keepingCapacity: true)
            stack.append(.explore(pc))
            while let step = stack.popLast() {
                switch step {
                case .restore(let slot, let value):
                    caps[slot] = value
                case .explore(let pc):
                    guard mark[pc] != generation else { continue }
                    mark[pc] = generation
                    switch program[pc] {
                    case .jump(let a):
                        stack.append(.explore(a))
                    case .split(let a, let b):
                        stack.append(.explore(b))
                        stack.append(.explore(a))
                    case .save(let k):
                        stack.append(.restore(slot: k, value: caps[k]))
                        caps[k] = pos
                        stack.append(.explore(pc + 1))
                    case .assertion(let a):
                        if ByteRegex.holds(a, text, pos) { stack.append(.explore(pc + 1)) }
                    case .cls, .match:
                        list.add(pc, caps)
                    case .classLoop:
                        // Greedy: another character of the class first, then what follows.
                        list.add(pc, caps)
                        stack.append(.explore(pc + 1))
                    }
                }
            }
        }

        var pos = from
        while true {
            if matched == nil && (!re.anchoredAtStart || pos == 0) {
                // A new start, after every thread that started earlier (lower priority).
                scratch.withUnsafeMutableBufferPointer { c in
                    c.update(repeating: -1)
                    addThread(&current, 0, at: pos, caps: c)
                }
            }
            let length = pos < n ? (text[pos] < 0x80 ? 1 : text[pos] >= 0xF0 ? 4 : text[pos] >= 0xE0 ? 3 : 2) : 0
            generation += 1
            if current.pcs.isEmpty {
                // Nothing running here: done once matched (or past an anchored start), else
                // the next position gets a new start.
                if matched != nil || (re.anchoredAtStart && pos > 0) || pos >= n { break }
                pos += length
                continue
            }
            threads: for t in current.pcs.indices {
                let pc = current.pcs[t]
                current.caps.withUnsafeMutableBufferPointer { all in
                    let caps = UnsafeMutableBufferPointer(rebasing: all[(t * width)..<((t + 1) * width)])
                    switch program[pc] {
                    case .match:
                        matched = Array(caps)
                    case .cls(let k):
                        if ByteRegex.step(re.classes[k], text, pos) != nil { addThread(&next, pc + 1, at: pos + length, caps: caps) }
                    case .classLoop(let k):
                        if ByteRegex.step(re.classes[k], text, pos) != nil { addThread(&next, pc, at: pos + length, caps: caps) }
                    default:
                        break
                    }
                }
                // Threads after a match have lower priority: they are dropped.
                if case .match = program[pc] { break threads }
            }
            if pos >= n { break }
            swap(&current, &next)
            next.clear()
            pos += length
        }
        return matched
    }
}
