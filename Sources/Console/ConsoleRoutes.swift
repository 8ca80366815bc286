/// Every console route. Add a page by writing a `ConsoleRoute` in `Pages/` (or `Actions/` for a
/// POST) and listing it here.
public enum ConsoleRoutes {
    public static let all: [any ConsoleRoute] = [
        StylesheetRoute(), ScriptRoute(), SignInPage(), SignInAction(), SignOutAction(),
        OverviewPage(), EventsRoute(),
        JobsPage(), JobPage(), JobRetryAction(), JobCancelAction(), BulkJobsAction(),
        QueuesPage(), QueuePauseAction(), QueueResumeAction(), WorkersPage(), AccountsPage(),
        PurchasesPage(), PurchaseConfirmAction(), EndpointsPage(), EndpointToggleAction(), EndpointEnableAction(), AuditPage(),
    ]
}
