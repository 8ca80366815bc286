/// The console's only assets, served by itself: one small stylesheet and the script that keeps
/// the overview's counts live where JavaScript runs (every page works without it).
enum Assets {
    static let stylesheet = """
        :root{--fg:#1d2433;--muted:#667085;--line:#e4e7ec;--bg:#f7f8fa;--accent:#2f5bea;--bad:#c8322b;--good:#1c8a4c;--warn:#b7791f}
        *{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--fg);background:var(--bg)}
        header{display:flex;flex-wrap:wrap;align-items:center;gap:16px;padding:10px 20px;background:#111827;color:#fff}
        header a{color:#cbd5e1;text-decoration:none;margin-right:12px}header a[aria-current]{color:#fff;font-weight:600}
        .brand{font-weight:700;margin-right:8px}nav{display:flex;flex:1;align-items:center;flex-wrap:wrap}.who{margin-left:auto;color:#cbd5e1}
        main{padding:16px 20px;max-width:1280px}h1{font-size:20px;margin:4px 0 14px}h2{font-size:16px;margin:22px 0 8px}
        table{border-collapse:collapse;width:100%;background:#fff;border:1px solid var(--line)}
        th,td{text-align:left;padding:6px 10px;border-bottom:1px solid var(--line);vertical-align:top}th{background:#f2f4f7;font-weight:600}
        td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}a{color:var(--accent)}
        pre{background:#fff;border:1px solid var(--line);padding:8px;overflow:auto;max-height:360px;margin:0}
        form.inline{display:inline}button{font:inherit;padding:3px 10px;border:1px solid #c5cbd6;border-radius:5px;background:#fff;cursor:pointer}
        button:hover{border-color:var(--accent)}button.danger{color:var(--bad)}header button{background:#1f2937;color:#fff;border-color:#374151}
        input,select{font:inherit;padding:3px 6px;border:1px solid #c5cbd6;border-radius:5px}
        .filters{display:flex;flex-wrap:wrap;gap:8px;align-items:end;margin-bottom:10px}.filters label{display:flex;flex-direction:column;font-size:12px;color:var(--muted)}
        .cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(160px,1fr));gap:10px}
        .card{background:#fff;border:1px solid var(--line);border-radius:8px;padding:10px 12px}.card b{display:block;font-size:20px}.card>span{color:var(--muted);font-size:12px}
        .state{padding:1px 7px;border-radius:9px;font-size:12px;background:#eef2f6}.state.discarded{background:#fde8e7;color:var(--bad)}
        .state.completed{background:#e5f5ec;color:var(--good)}.state.running{background:#e8eefe;color:var(--accent)}.state.retryable{background:#fdf3e1;color:var(--warn)}
        .notice{background:#e8eefe;border:1px solid #c3d1fb;padding:8px 12px;border-radius:6px}.error{background:#fde8e7;border-color:#f5c2bf}
        .empty{color:var(--muted)}.bulk{margin:10px 0;display:flex;gap:8px;align-items:center}.pager{margin:10px 0}
        svg.chart{background:#fff;border:1px solid var(--line);width:100%;height:auto}svg.chart .c{fill:var(--good)}svg.chart .d{fill:var(--bad)}
        svg.chart text{font-size:10px;fill:var(--muted)}.legend span{margin-right:12px}.legend i{display:inline-block;width:10px;height:10px;margin-right:4px}.legend i.c{background:var(--good)}.legend i.d{background:var(--bad)}
        .signin{max-width:420px;background:#fff;border:1px solid var(--line);border-radius:8px;padding:18px}.signin input{width:100%;margin:6px 0 12px}
        dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;background:#fff;border:1px solid var(--line);padding:10px;margin:0}dl.facts dt{color:var(--muted)}dl.facts dd{margin:0}
        """

    /// Counts marked `data-live="name"` follow the console's event stream (`/events`).
    static let script = """
        "use strict";
        if (window.EventSource && document.querySelector("[data-live]")) {
          const es = new EventSource("/events");
          es.addEventListener("counts", e => {
            const counts = JSON.parse(e.data);
            for (const el of document.querySelectorAll("[data-live]")) {
              const v = counts[el.dataset.live];
              el.textContent = v === undefined ? "0" : String(v);
            }
            document.documentElement.dataset.liveAt = String(Date.now());
          });
        }
        """
}
