/// The routing table: every endpoint of the ingress, one line each. To add an endpoint, write
/// a type conforming to `Endpoint` in this folder and list it here (docs/ingress.md).
public enum Routes {
    public static let all: [any Endpoint] = [
        // Webhooks: verified by signature, no API key.
        StripeWebhookEndpoint(),
        BitGoWebhookEndpoint(),
        // The app API (Authorization: Bearer <api key>).
        OpenAccountEndpoint(),
        RecordUsageEndpoint(),
        RecordActivityEndpoint(),
        CreateCryptoPurchaseEndpoint(),
        MarkNotificationsReadEndpoint(),
        SetAlertsEndpoint(),
        SetAutoTopupEndpoint(),
        ShowJobEndpoint(),
        ShowAccountEndpoint(),
        ShowLedgerEndpoint(),
        ListNotificationsEndpoint(),
        CreateStreamTokenEndpoint(),
        // The stream: its own token, not an API key.
        StreamEndpoint(),
        StreamPreflightEndpoint(),
        ShowPurchaseEndpoint(),
        CreateHoldEndpoint(),
        CaptureHoldEndpoint(),
        VoidHoldEndpoint(),
        ShowHoldEndpoint(),
        CreateTransferEndpoint(),
        EndTransferEndpoint(),
        ShowTransferEndpoint(),
        // Operations.
        HealthEndpoint(),
        ReadyEndpoint(),
        MetricsEndpoint(),
    ]
}
