/// A compiled pattern run on UTF-8 bytes: a bit-state backtracker (as RE2's BitState) over a
/// small instruction program. It finds the same leftmost-first matches and submatches as RE2
/// and Go, never revisits an (instruction, position) pair — so its time is linear in program
/// size × text length, whatever the pattern — and works on the string's own UTF-8. Texts too
/// long for its state table run on `PikeVM`, the same program simulated breadth-first.
final class ByteRegex: Sendable {
    enum Instruction: Sendable {
        /// One character of class `classes[i]`.
        case cls(Int)
        /// As many characters of class `classes[i]` as there are (a greedy `[…]*`), then the
        /// next instruction, giving back one character at a time: the loop of `split`, `cls`
        /// and `jump` it stands for, run as one tight scan instead of one job per character.
        case classLoop(Int)
        /// Continue at both, preferring the first.
        case split(Int, Int)
        case jump(Int)
        /// Record the position in capture slot `n`.
        case save(Int)
        case assertion(RegexAssertion)
        case match
    }

    /// What a match can start with: ASCII bytes, and whether any non-ASCII scalar may begin it.
    struct FirstBytes: Sendable {
        var set: ASCIISet
        var nonASCII: Bool
    }

    let program: [Instruction]
    let classes: [CharClass]
    /// Capture groups, without the whole match.
    let groupCount: Int
    let groupNames: [(name: String, index: Int)]
    /// A match can only start at the beginning of the text.
    let anchoredAtStart: Bool
    /// The bytes a match can start with (nil when a match may be empty): other start positions
    /// are skipped without running the program.
    let firstBytes: FirstBytes?
    /// When a match can only start with one of up to three ASCII bytes (`[?&;]`, `(?i)b`, `@`):
    /// those bytes repeated in every byte of a word, for a word-at-a-time scan of the text.
    let firstByteWords: [UInt64]

    /// The largest visited-state table a search may use (bits); longer texts run on `PikeVM`.
    static let maxStates = 1 << 23
    /// The largest program a pattern may compile to (counted repetitions are expanded): Go
    /// refuses such patterns as "expression too large" too.
    static let maxProgram = 100_000

    init(_ pattern: String) throws(RegexSyntaxError) {
        let parsed = try RegexParser.parse(pattern)
        var compiler = Compiler()
        compiler.emit(.save(0))
        compiler.compile(parsed.node)
        compiler.emit(.save(1))
        compiler.emit(.match)
        guard compiler.program.count <= Self.maxProgram else {
            throw RegexSyntaxError(pattern: pattern, message: "expression too large", fragment: pattern, offset: 0)
        }
        program = compiler.program
        classes = compiler.classes
        groupCount = parsed.groups
        groupNames = parsed.names
        anchoredAtStart = Self.startsAnchored(parsed.node)
        let first = Self.first(parsed.node)
        firstBytes = first.nullable ? nil : FirstBytes(set: first.set, nonASCII: first.nonASCII)
        let members = (0..<128).map(UInt8.init).filter { first.set.contains($0) }
        firstByteWords = !first.nullable && !first.nonASCII && (1...3).contains(members.count)
            ? members.map { UInt64($0) &* 0x0101_0101_0101_0101 } : []
    }

    /// What a match of `node` can start with, and whether it can be empty.
    static func first(_ node: RegexNode) -> (set: ASCIISet, nonASCII: Bool, nullable: Bool) {
        switch node {
        case .empty, .assertion:
            return (ASCIISet(), false, true)
        case .cls(let c):
            return (c.ascii, c.hasNonASCII, false)
        case .capture(let inner, _):
            return first(inner)
        case .repetition(let inner, let min, _, _):
            let f = first(inner)
            return (f.set, f.nonASCII, f.nullable || min == 0)
        case .alternate(let branches):
            var out = (set: ASCIISet(), nonASCII: false, nullable: false)
            for b in branches {
                let f = first(b)
                out.set.formUnion(f.set)
                out.nonASCII = out.nonASCII || f.nonASCII
                out.nullable = out.nullable || f.nullable
            }
            return out
        case .concat(let items):
            var out = (set: ASCIISet(), nonASCII: false, nullable: true)
            for item in items {
                let f = first(item)
                out.set.formUnion(f.set)
                out.nonASCII = out.nonASCII || f.nonASCII
                if !f.nullable {
                    out.nullable = false
                    break
                }
            }
            return out
        }
    }

    private static func startsAnchored(_ node: RegexNode) -> Bool {
        switch node {
        case .assertion(.beginText): return true
        case .concat(let items): return items.first.map(startsAnchored) ?? false
        case .capture(let inner, _): return startsAnchored(inner)
        default: return false
        }
    }

    struct Compiler {
        var program: [Instruction] = []
        var classes: [CharClass] = []

        var classIndexes: [CharClass: Int] = [:]

        mutating func classIndex(_ c: CharClass) -> Int {
            if let k = classIndexes[c] { return k }
            classes.append(c)
            classIndexes[c] = classes.count - 1
            return classes.count - 1
        }

        @discardableResult
        mutating func emit(_ i: Instruction) -> Int {
            program.append(i)
            return program.count - 1
        }

        mutating func compile(_ node: RegexNode) {
            switch node {
            case .empty:
                break
            case .cls(let c):
                emit(.cls(classIndex(c)))
            case .concat(let items):
                for item in items { compile(item) }
            case .alternate(let branches):
                // split L1, next; L1: a; jump end; next: split L2, … ; last branch
                var jumps: [Int] = []
                for (n, b) in branches.enumerated() {
                    if n < branches.count - 1 {
                        let split = emit(.split(0, 0))
                        compile(b)
                        jumps.append(emit(.jump(0)))
                        program[split] = .split(split + 1, program.count)
                    } else {
                        compile(b)
                    }
                }
                for j in jumps { program[j] = .jump(program.count) }
            case .capture(let inner, let index):
                emit(.save(2 * index))
                compile(inner)
                emit(.save(2 * index + 1))
            case .assertion(let a):
                emit(.assertion(a))
            case .repetition(let inner, let min, let max, let greedy):
                // Laid out as Go and RE2 simplify and compile them, which decides the
                // submatches: x{n,m} is n copies then nested optional ones; x{n,} is n-1 copies
                // then x+ (one body looping back); x* is (x+)? when x can match empty.
                if let max {
                    for _ in 0..<min { compile(inner) }
                    var splits: [Int] = []
                    for _ in min..<max {
                        splits.append(emit(.split(0, 0)))
                        compile(inner)
                    }
                    let end = program.count
                    for s in splits { program[s] = greedy ? .split(s + 1, end) : .split(end, s + 1) }
                } else if greedy, case .cls(let c) = inner {
                    // One character per step and no captures: x{n,} is n copies and a scan.
                    for _ in 0..<min { compile(inner) }
                    emit(.classLoop(classIndex(c)))
                } else if min > 0 || ByteRegex.first(inner).nullable {
                    for _ in 0..<Swift.max(min - 1, 0) { compile(inner) }
                    let skip = min == 0 ? emit(.split(0, 0)) : nil
                    let body = program.count
                    compile(inner)
                    emit(greedy ? .split(body, program.count + 1) : .split(program.count + 1, body))
                    if let skip { program[skip] = greedy ? .split(skip + 1, program.count) : .split(program.count, skip + 1) }
                } else {
                    // loop: split body, end; body; jump loop
                    let loop = emit(.split(0, 0))
                    compile(inner)
                    emit(.jump(loop))
                    program[loop] = greedy ? .split(loop + 1, program.count) : .split(program.count, loop + 1)
                }
            }
        }
    }

    /// Capture slots of a match: `slots[2k]`, `slots[2k + 1]` bound group k (0: the whole
    /// match), -1 when the group did not take part. Byte offsets into the text.
    typealias Slots = [Int]

    /// A pending branch of the search, or (restoreSlot ≥ 0) a capture to undo, whose old value
    /// is in `pc`. A branch with `low < pos` stands for the branches at every character start
    /// from `pos` down to `low`, tried in that order (what a `classLoop` gives back).
    struct Job {
        var pc: Int
        var pos: Int
        var restoreSlot: Int
        var low: Int
    }

    /// The working memory of searches in one text, reused from one match to the next.
    struct Search {
        var visited: [UInt64] = []
        var slots: Slots = []
        var stack: [Job] = []
    }

    /// The leftmost-first match starting at or after `from`, or nil.
    func firstMatch(in text: UnsafeBufferPointer<UInt8>, from: Int) -> Slots? {
        var search = Search()
        return firstMatch(in: text, from: from, search: &search)
    }

    func firstMatch(in text: UnsafeBufferPointer<UInt8>, from: Int, search: inout Search) -> Slots? {
        let n = text.count
        var start = from
        // Most texts that reach the engine have no place a match can begin: find the first one
        // before setting anything up.
        guard let first = nextStart(text, from: start) else { return nil }
        start = first
        let states = program.count * (n + 1)
        guard states <= Self.maxStates else { return PikeVM.firstMatch(self, in: text, from: start) }
        let words = (states + 63) / 64
        if search.visited.count < words {
            search.visited = [UInt64](repeating: 0, count: words)
        } else {
            search.visited.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
        }
        if search.slots.count == 2 * (groupCount + 1) {
            search.slots.withUnsafeMutableBufferPointer { $0.update(repeating: -1) }
        } else {
            search.slots = Slots(repeating: -1, count: 2 * (groupCount + 1))
        }
        while true {
            let matched = search.visited.withUnsafeMutableBufferPointer { seen in
                run(text, start: start, seen: seen, slots: &search.slots, stack: &search.stack)
            }
            if matched { return search.slots }
            // Only valid starts: the first byte of a scalar.
            var next = start + 1
            while next < n, text[next] & 0xC0 == 0x80 { next += 1 }
            guard next <= n, let s = nextStart(text, from: next) else { return nil }
            start = s
        }
    }

    /// Queues the branches at `pc` for every character start before `pos` down to `low` (none
    /// when `pos` is `low`), as one job: what a `classLoop` gives back, one character at a time.
    @inline(__always)
    private static func giveBack(pc: Int, before pos: Int, downTo low: Int, in text: UnsafeBufferPointer<UInt8>, to stack: inout [Job]) {
        guard low < pos else { return }
        var before = pos - 1
        while before > low, text[before] & 0xC0 == 0x80 { before -= 1 }
        stack.append(Job(pc: pc, pos: before, restoreSlot: -1, low: low))
    }

    /// The first position at or after `from` where a match may begin, if any.
    @inline(__always)
    private func nextStart(_ text: UnsafeBufferPointer<UInt8>, from: Int) -> Int? {
        let n = text.count
        if anchoredAtStart && from > 0 { return nil }
        guard let f = firstBytes else { return from <= n ? from : nil }
        var i = from
        if !firstByteWords.isEmpty, let base = text.baseAddress {
            // Eight bytes at a time: a byte equal to one of the few is a zero byte of the word
            // XOR that byte repeated (the lowest flagged byte of the "has zero byte" trick is exact).
            while i &+ 8 <= n {
                let x = UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self)
                var z: UInt64 = 0
                for w in firstByteWords {
                    let y = x ^ w
                    z |= (y &- 0x0101_0101_0101_0101) & ~y & 0x8080_8080_8080_8080
                }
                if z != 0 { return i &+ z.trailingZeroBitCount / 8 }
                i &+= 8
            }
        }
        while i < n {
            let b = text[i]
            if b < 0x80 ? f.set.contains(b) : (f.nonASCII && b & 0xC0 != 0x80) { return i }
            i += 1
        }
        return nil
    }

    /// Depth-first search from `start` in priority order; true with `slots` set on a match.
    private func run(_ text: UnsafeBufferPointer<UInt8>, start: Int, seen: UnsafeMutableBufferPointer<UInt64>,
                     slots: inout Slots, stack: inout [Job]) -> Bool {
        let n = text.count
        let width = n + 1
        stack.removeAll(keepingCapacity: true)
        stack.append(Job(pc: 0, pos: start, restoreSlot: -1, low: start))
        while let job = stack.popLast() {
            if job.restoreSlot >= 0 {
                // Undo a capture on the way back (pc holds the old value).
                slots[job.restoreSlot] = job.pc
                continue
            }
            var pc = job.pc
            var pos = job.pos
            // The rest of a given-back range waits under this branch's own.
            Self.giveBack(pc: pc, before: pos, downTo: job.low, in: text, to: &stack)
            thread: while true {
                let state = pc &* width &+ pos
                let word = state >> 6, bit = UInt64(1) << UInt64(state & 63)
                if seen[word] & bit != 0 { break thread }
                seen[word] |= bit
                switch program[pc] {
                case .cls(let k):
                    guard let next = Self.step(classes[k], text, pos) else { break thread }
                    pos = next
                    pc &+= 1
                case .classLoop(let k):
                    // Take every character of the class from here on, marking each loop state
                    // as the split/cls/jump loop would; a state already visited ends the run
                    // there (its continuations were tried from that visit).
                    let from = pos
                    while let next = Self.step(classes[k], text, pos) {
                        let s = pc &* width &+ next
                        let w = s >> 6, bit = UInt64(1) << UInt64(s & 63)
                        if seen[w] & bit != 0 { break }
                        seen[w] |= bit
                        pos = next
                    }
                    // Continue after the loop at the longest run; the shorter ones wait.
                    Self.giveBack(pc: pc &+ 1, before: pos, downTo: from, in: text, to: &stack)
                    pc &+= 1
                case .split(let a, let b):
                    stack.append(Job(pc: b, pos: pos, restoreSlot: -1, low: pos))
                    pc = a
                case .jump(let a):
                    pc = a
                case .save(let k):
                    stack.append(Job(pc: slots[k], pos: 0, restoreSlot: k, low: 0))
                    slots[k] = pos
                    pc &+= 1
                case .assertion(let a):
                    guard Self.holds(a, text, pos) else { break thread }
                    pc &+= 1
                case .match:
                    return true
                }
            }
        }
        return false
    }

    /// Where the character at `pos` ends when `cls` has it; nil when it does not (or at the end).
    @inline(__always)
    static func step(_ cls: CharClass, _ text: UnsafeBufferPointer<UInt8>, _ pos: Int) -> Int? {
        guard pos < text.count else { return nil }
        let b = text[pos]
        if b < 0x80 { return cls.ascii.contains(b) ? pos &+ 1 : nil }
        let length = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : 2
        guard pos &+ length <= text.count else { return nil }
        switch cls.nonASCII {
        case .none: return nil
        case .all: return pos &+ length
        case .some:
            var c = UInt32(b) & (0xFF >> UInt32(length + 1))
            for k in 1..<length { c = c << 6 | UInt32(text[pos &+ k] & 0x3F) }
            return cls.contains(c) ? pos &+ length : nil
        }
    }

    @inline(__always)
    static func holds(_ a: RegexAssertion, _ text: UnsafeBufferPointer<UInt8>, _ pos: Int) -> Bool {
        let n = text.count
        switch a {
        case .beginText: return pos == 0
        case .endText: return pos == n
        case .beginLine: return pos == 0 || text[pos - 1] == 0x0A
        case .endLine: return pos == n || text[pos] == 0x0A
        case .wordBoundary, .notWordBoundary:
            let before = pos > 0 && ASCIISet.word.contains(text[pos - 1])
            let after = pos < n && ASCIISet.word.contains(text[pos])
            return (before != after) == (a == .wordBoundary)
        }
    }
}
