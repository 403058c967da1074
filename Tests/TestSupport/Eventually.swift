/// Polls `condition` every 20 ms until it holds or `timeout` passes; returns its last answer.
/// For tests that wait on another process or server, never as a timing measurement.
public func eventually(timeout: Duration = .seconds(20), _ condition: () -> Bool) async -> Bool {
    let end = ContinuousClock.now + timeout
    while ContinuousClock.now < end {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return condition()
}
