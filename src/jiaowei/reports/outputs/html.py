"""A report as HTML: a whole page for the file, or the ``<article class="report">`` the web page embeds.

Every figure is a link to its pivot in Analytics (``<a class="figure" href="/analytics?…"
title="indicator · units · period">86%</a>``); charts are inline SVG; the sources of the figures
are a collapsed table at the end. The standalone page carries its CSS inline and loads nothing: no
script, no stylesheet, no font, no image from a server.
"""

from __future__ import annotations

from html import escape

from jiaowei.reports.document import (
    Chart,
    Document,
    FigureRef,
    Heading,
    ListBlock,
    Paragraph,
    Runs,
    Table,
    Text,
)
from jiaowei.reports.outputs import (
    SOURCES_COLUMNS,
    SOURCES_TITLE,
    chart_caption,
    charts,
    figure_title,
    generated_line,
    readable_query,
    say,
    source_rows,
)

FONT_STACK = ('"Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", '
              '"WenQuanYi Micro Hei", sans-serif')
STYLE = f"""
body {{ margin: 0; background: #f4f4f4; }}
article.report {{ max-width: 46em; margin: 2em auto; padding: 2em 3em; background: #fff;
  font-family: {FONT_STACK}; line-height: 1.7; color: #222; }}
article.report h1 {{ text-align: center; font-size: 1.6em; margin-bottom: .2em; }}
article.report .subtitle, article.report .generated {{ text-align: center; color: #555; margin: 0; }}
article.report .synthetic-note {{ border-left: 4px solid #e0a000; padding: .3em .8em; background: #fff8e0; }}
article.report a.figure {{ color: inherit; text-decoration: underline dotted #36c; }}
article.report a.figure.synthetic {{ text-decoration-color: #e0a000; }}
article.report table {{ border-collapse: collapse; margin: 1em 0; width: 100%; }}
article.report th, article.report td {{ border: 1px solid #bbb; padding: .25em .5em; text-align: left; }}
article.report figure.chart {{ margin: 1.5em 0; text-align: center; }}
article.report figure.chart svg {{ max-width: 100%; height: auto; }}
article.report figcaption {{ color: #555; font-size: .9em; }}
article.report details.sources {{ margin-top: 2em; font-size: .85em; }}
article.report details.sources code {{ word-break: break-all; }}
"""


def to_html(document: Document, *, standalone: bool) -> str:
    """The report as a whole page (``standalone``) or as the article the web page embeds."""
    article = _article(document)
    if not standalone:
        return article
    lang = "zh-CN" if document.language == "zh" else "en"
    return ("<!DOCTYPE html>\n"
            f'<html lang="{lang}">\n<head>\n<meta charset="utf-8">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{_e(document.title)}</title>\n<style>{STYLE}</style>\n</head>\n"
            f"<body>\n{article}\n</body>\n</html>\n")


def _article(document: Document) -> str:
    lang = "zh-CN" if document.language == "zh" else "en"
    parts = [f'<article class="report" lang="{lang}">', "<header>", f"<h1>{_e(document.title)}</h1>"]
    if document.subtitle:
        parts.append(f'<p class="subtitle">{_e(document.subtitle)}</p>')
    if generated := generated_line(document):
        parts.append(f'<p class="generated">{_e(generated)}</p>')
    parts.append("</header>")
    if document.synthetic_note:
        parts.append(f'<p class="synthetic-note">{_e(document.synthetic_note)}</p>')
    parts.extend(_block(document, block) for block in document.blocks)
    if document.figures:
        parts.append(_sources(document))
    parts.append("</article>")
    return "\n".join(parts)


def _block(document: Document, block: object) -> str:
    if isinstance(block, Heading):
        level = min(max(block.level, 1), 3) + 1
        return f"<h{level}>{_runs(document, block.runs)}</h{level}>"
    if isinstance(block, Paragraph):
        return f"<p>{_runs(document, block.runs)}</p>"
    if isinstance(block, ListBlock):
        tag = "ol" if block.ordered else "ul"
        items = "".join(f"<li>{_runs(document, item)}</li>" for item in block.items)
        return f"<{tag}>{items}</{tag}>"
    if isinstance(block, Table):
        return _table(document, block)
    assert isinstance(block, Chart)
    return _chart(document, block)


def _runs(document: Document, runs: Runs) -> str:
    return "".join(_run(document, run) for run in runs)


def _run(document: Document, run: Text | FigureRef) -> str:
    if isinstance(run, Text):
        text = _e(run.text)
        text = f"<strong>{text}</strong>" if run.bold else text
        return f"<em>{text}</em>" if run.italic else text
    figure = document.figure(run.number)
    kind = "figure synthetic" if figure.synthetic else "figure"
    return (f'<a class="{kind}" href="{_e(figure.pivot_url)}" title="{_e(figure_title(document, figure))}" '
            f'data-figure="{figure.number}">{_e(figure.text)}</a>')


def _table(document: Document, table: Table) -> str:
    caption = f"<caption>{_e(table.caption)}</caption>" if table.caption else ""
    head = "".join(f"<th>{_runs(document, cell)}</th>" for cell in table.header)
    body = "".join("<tr>" + "".join(f"<td>{_runs(document, cell)}</td>" for cell in row) + "</tr>"
                   for row in table.rows)
    return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _chart(document: Document, chart: Chart) -> str:
    drawn = charts.svg(chart, font_family=FONT_STACK, language=document.language)
    drawn = drawn.replace(f' xmlns="{charts.SVG_NS}"', "", 1)  # inline SVG in HTML needs no namespace
    return (f'<figure class="chart" data-chart="{chart.number}">{drawn}'
            f"<figcaption>{_e(chart_caption(document, chart))}</figcaption></figure>")


def _sources(document: Document) -> str:
    head = "".join(f"<th>{_e(say(document, column))}</th>" for column in SOURCES_COLUMNS)
    rows = []
    for row in source_rows(document):
        queries = "<br>".join(f'<a href="{_e(q)}"><code>{_e(readable_query(q))}</code></a>'
                              for q in row.queries)
        cells = (str(row.number), _e(row.figure), _e(row.indicator), _e(row.units), _e(row.period), queries)
        rows.append(f'<tr id="figure-{row.number}">' + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return (f'<details class="sources"><summary>{_e(say(document, SOURCES_TITLE))}</summary>'
            f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></details>")


def _e(text: str) -> str:
    return escape(text, quote=True)
