"""`make report`: an HTML page of plots from the lake of the local or a deployed stack.

Stock over time for chosen items (curated/stock_history/), units sold per day (the negative inventory
transactions), rejected rows per day (rejected/), the levels below their restock threshold now (the newest level
and threshold in the history) and the lowest days of cover of the newest forecast (curated/daily_rates/). The
notebook draws the same figures with the same functions.

python -m stockctl lake-report --local --out reports/stock-report.html --items a123v5,b456
python -m stockctl lake-report --stack stock-pipeline --days 14
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

HISTORY, TRANSACTIONS, REJECTED = "curated/stock_history/", "curated/inventory_transactions/", "rejected/"
RATES = "curated/daily_rates/"


@dataclass(frozen=True, slots=True)
class LakeData:
    """What the page shows, as read from the lake (empty frames where a dataset has no files yet)."""

    history: pd.DataFrame
    transactions: pd.DataFrame
    rejected: pd.DataFrame  # one row per rejected-rows file: day, rows
    rates: pd.DataFrame = field(default_factory=pd.DataFrame)  # the forecast runs (daily_rates), dt per run


def read_lake(session: Any, bucket: str, endpoint: str | None = None) -> LakeData:
    """The three datasets through awswrangler (Parquet) and S3 (rejected JSON lines, dated by when written)."""
    import awswrangler as wr

    if endpoint:
        wr.config.s3_endpoint_url = endpoint

    def parquet(prefix: str) -> pd.DataFrame:
        path = f"s3://{bucket}/{prefix}"
        if not wr.s3.list_objects(path, boto3_session=session):
            return pd.DataFrame()
        return wr.s3.read_parquet(path, dataset=True, boto3_session=session)

    s3 = session.client("s3", endpoint_url=endpoint)
    files = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=REJECTED):
        for obj in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
            files.append({"day": obj["LastModified"].date(), "rows": sum(1 for line in body.splitlines() if line)})
    return LakeData(
        parquet(HISTORY), parquet(TRANSACTIONS), pd.DataFrame(files, columns=["day", "rows"]), parquet(RATES)
    )


# ---------------------------------------------------------------- the figures' data (pure, pandas)


def levels(history: pd.DataFrame) -> pd.DataFrame:
    """Warehouse-level changes in stream order."""
    if history.empty:
        return pd.DataFrame(columns=["event_time", "warehouse", "item_id", "new_value", "sequence"])
    rows = history[history["entity"] == "warehouse_level"]
    return rows.sort_values("sequence")[["event_time", "warehouse", "item_id", "new_value", "sequence"]]


def busiest_items(history: pd.DataFrame, n: int = 3) -> list[str]:
    """The items with the most level changes: a default choice that shows movement."""
    moves = levels(history)
    return moves["item_id"].value_counts().head(n).index.tolist()


def stock_over_time(history: pd.DataFrame, items: list[str]) -> pd.DataFrame:
    """Level after each change, one column per (item, warehouse), indexed by event time (a step series)."""
    moves = levels(history)
    moves = moves[moves["item_id"].isin(items)]
    if moves.empty:
        return pd.DataFrame()
    moves = moves.assign(series=moves["item_id"] + " @ " + moves["warehouse"])
    # one row per change in stream order (event times have whole seconds: several changes share one)
    series = moves.pivot_table(index="sequence", columns="series", values="new_value", aggfunc="last").sort_index()
    times = moves.groupby("sequence")["event_time"].first()
    return series.ffill().set_axis(pd.DatetimeIndex(times.loc[series.index].to_numpy(), name="event_time"))


def sales_per_day(transactions: pd.DataFrame) -> pd.DataFrame:
    """Units sold (negative changes) per day and warehouse."""
    if transactions.empty:
        return pd.DataFrame()
    sold = transactions[transactions["stock_level_change"] < 0]
    if sold.empty:
        return pd.DataFrame()
    sold = sold.assign(
        units=-sold["stock_level_change"], warehouse=sold["warehouse"].astype(str), dt=sold["dt"].astype(str)
    )
    return sold.pivot_table(index="dt", columns="warehouse", values="units", aggfunc="sum", fill_value=0).sort_index()


def rejected_per_day(rejected: pd.DataFrame) -> pd.Series:
    if rejected.empty:
        return pd.Series(dtype="int64")
    return rejected.groupby("day")["rows"].sum().sort_index()


def below_threshold(history: pd.DataFrame, default_threshold: int) -> pd.DataFrame:
    """Levels now below their item's threshold: the newest level per warehouse and item, the newest threshold per
    item (the default where none was set), lowest first."""
    moves = levels(history)
    columns = ["warehouse", "item_id", "level", "threshold"]
    if moves.empty:
        return pd.DataFrame(columns=columns)
    latest = moves.groupby(["warehouse", "item_id"], as_index=False).last()
    thresholds = history[history["entity"] == "threshold"].sort_values("sequence")
    newest = thresholds.groupby("item_id")["new_value"].last() if not thresholds.empty else pd.Series(dtype="int64")
    latest["threshold"] = latest["item_id"].map(newest).fillna(default_threshold).astype("int64")
    latest = latest.rename(columns={"new_value": "level"})
    below = latest[latest["level"] < latest["threshold"]]
    return below.sort_values(["level", "warehouse", "item_id"])[columns].reset_index(drop=True)


def lowest_cover(rates: pd.DataFrame, n: int = 20) -> pd.DataFrame:
    """The newest forecast run's levels with the fewest days of cover (levels without sales have none)."""
    if rates.empty:
        return pd.DataFrame(columns=["days_of_cover"])
    days = rates["dt"].astype(str)
    newest = rates[days == days.max()].dropna(subset=["days_of_cover"])
    shown = newest.sort_values(["days_of_cover", "warehouse", "item_id"]).head(n)
    return shown.set_index(shown["item_id"] + " @ " + shown["warehouse"])[["days_of_cover"]]


# ---------------------------------------------------------------- drawing


def figures(data: LakeData, items: list[str], default_threshold: int) -> dict[str, Any]:
    """The five matplotlib figures of the page (and of the notebook), keyed by title."""
    import matplotlib.dates as mdates
    from matplotlib.figure import Figure  # no pyplot: no backend state, the same figures in a notebook or a script
    from matplotlib.ticker import MaxNLocator

    drawn: dict[str, Any] = {}

    def figure(title: str, frame: pd.DataFrame | pd.Series, kind: str, ylabel: str, empty: str) -> None:
        fig = Figure(figsize=(10, 3.6))
        ax = fig.subplots()
        if len(frame):
            if kind == "step":
                span = (frame.index.max() - frame.index.min()).total_seconds()
                # changes minutes apart or more: on a time axis; a burst (a replay, the local demo): in order
                x = frame.index if span >= 600 else range(len(frame))
                for column in frame.columns:
                    ax.step(x, frame[column], where="post", label=column)
                ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.0, 1.0))
                if span >= 600:
                    locator = mdates.AutoDateLocator()
                    ax.xaxis.set_major_locator(locator)
                    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
                else:
                    ax.set_xlabel(f"changes in stream order (all within {span:.0f} s)")
            else:
                frame.plot(kind=kind, ax=ax, legend=isinstance(frame, pd.DataFrame), rot=0)
        else:
            ax.text(0.5, 0.5, empty, ha="center", va="center", transform=ax.transAxes, color="#555")
        ax.set_title(title)
        ax.set_ylabel(ylabel)
        (ax.xaxis if kind == "barh" else ax.yaxis).set_major_locator(MaxNLocator(integer=True))
        fig.tight_layout()
        drawn[title] = fig

    figure("Stock over time", stock_over_time(data.history, items), "step", "units in stock", "no level changes yet")
    figure("Units sold per day", sales_per_day(data.transactions), "bar", "units sold", "no sales yet")
    figure("Rejected rows per day", rejected_per_day(data.rejected), "bar", "rows rejected", "nothing rejected")
    below = below_threshold(data.history, default_threshold)
    shown = below.head(20).set_index(below.head(20)["item_id"] + " @ " + below.head(20)["warehouse"])
    figure(
        "Levels below their restock threshold",
        shown[["level", "threshold"]] if len(shown) else pd.DataFrame(),
        "barh",
        "",
        "no level is below its threshold",
    )
    cover = lowest_cover(data.rates)
    figure(
        "Days of cover (newest forecast, lowest 20)",
        cover.iloc[::-1] if len(cover) else pd.DataFrame(),
        "barh",
        "",
        "no forecast yet (python -m stockctl forecast)",
    )
    return drawn


def png(fig: Any) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=96)
    return buffer.getvalue()


PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1.5rem auto; max-width: 1100px; color: #1a1a1a; }}
figure {{ margin: 1.5rem 0; }} figure img {{ max-width: 100%; border: 1px solid #ddd; }}
figcaption {{ font-weight: 600; margin-bottom: .4rem; }}
table {{ border-collapse: collapse; }} td, th {{ border: 1px solid #ccc; padding: .2rem .6rem; text-align: left; }}
.meta {{ color: #444; }}
</style>
</head>
<body data-plots="0">
<h1>{title}</h1>
<p class="meta">{meta}</p>
{figures}
<h2>Levels below their restock threshold</h2>
{below}
<script>
window.addEventListener("load", function () {{
  var drawn = Array.prototype.filter.call(document.querySelectorAll("img.plot"), function (img) {{
    return img.complete && img.naturalWidth > 0;
  }});
  document.body.setAttribute("data-plots", String(drawn.length));
}});
</script>
</body>
</html>
"""


def render_html(data: LakeData, items: list[str], default_threshold: int, *, source: str) -> str:
    """A self-contained page: the plots as PNG data, no script or style fetched from anywhere."""
    parts = []
    for n, (title, fig) in enumerate(figures(data, items, default_threshold).items()):
        encoded = base64.b64encode(png(fig)).decode()
        parts.append(
            f'<figure id="plot-{n + 1}"><figcaption>{html.escape(title)}</figcaption>'
            f'<img class="plot" alt="{html.escape(title)}" src="data:image/png;base64,{encoded}"></figure>'
        )
    below = below_threshold(data.history, default_threshold)
    table = (
        below.to_html(index=False, border=0, classes="below", escape=True)
        if len(below)
        else "<p>No level is below its threshold.</p>"
    )
    meta = (
        f"From {html.escape(source)}, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC. Items: "
        f"{html.escape(', '.join(items) or 'none yet')}. {len(levels(data.history))} level changes, "
        f"{len(data.transactions)} transactions, {int(data.rejected['rows'].sum()) if len(data.rejected) else 0} "
        "rejected rows."
    )
    return PAGE.format(title="Stock report", meta=meta, figures="\n".join(parts), below=table)


def run(args: Any) -> int:
    """The `lake-report` command: read the lake of the chosen stack, write the page."""
    from stockctl.stack import stack_access

    session, outputs, endpoint = stack_access(args)
    data = read_lake(session, outputs["DataBucketName"], endpoint)
    items = [i for i in (args.items or "").split(",") if i] or busiest_items(data.history)
    source = f"the local stack ({endpoint})" if endpoint else f"stack {args.stack}"
    page = render_html(data, items, args.default_threshold, source=source)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    print(json.dumps({"report": str(out), "items": items, "levelChanges": len(levels(data.history))}))
    return 0
