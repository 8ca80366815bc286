// The fakes of outside services live in DevFakes (ops/run's `tally-dev-fakes` serves the same
// ones); tests get them with TestSupport, answering the fixtures of Tests/Fixtures.
@_exported import DevFakes

extension Fixture {
    /// The fixtures as the fakes read them.
    public static var forFakes: FixtureDirectory { FixtureDirectory(directory) }
}

extension FakeCoinGecko {
    public convenience init() throws { try self.init(fixtures: Fixture.forFakes) }
}

extension FakeBitGo {
    public convenience init() throws { try self.init(fixtures: Fixture.forFakes) }
}

extension FakeStripe {
    public convenience init() throws { try self.init(fixtures: Fixture.forFakes) }
}
