"""HTML of the signing page, the message pages and the inbox (Jinja, autoescaped by Flask)."""

from __future__ import annotations

_STYLE = """
<style>
  body { font-family: "Noto Sans CJK SC", "Noto Sans", system-ui, sans-serif; margin: 0; background: #f4f5f7;
         color: #1d2733; }
  header { background: #1d3b5c; color: #fff; padding: 12px 24px; font-size: 14px; letter-spacing: .02em; }
  main { max-width: 920px; margin: 24px auto; background: #fff; border-radius: 8px; padding: 24px;
         box-shadow: 0 1px 3px rgba(0,0,0,.12); }
  h1 { font-size: 22px; margin: 0 0 6px; }
  .muted { color: #5b6573; font-size: 14px; }
  iframe { width: 100%; height: 60vh; border: 1px solid #d5d9df; border-radius: 4px; margin: 16px 0;
           background: #fff; }
  .actions { display: flex; gap: 16px; align-items: flex-end; flex-wrap: wrap; }
  button { font-size: 16px; padding: 10px 22px; border-radius: 4px; border: 0; cursor: pointer; }
  #sign { background: #f5b800; color: #1d2733; font-weight: 600; }
  #decline { background: #e4e7eb; color: #1d2733; }
  textarea { width: 280px; height: 38px; font: inherit; font-size: 14px; }
  table { border-collapse: collapse; width: 100%; font-size: 14px; }
  th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid #e4e7eb; vertical-align: top; }
  code { font-size: 12px; }
</style>
"""

SIGNING_PAGE = (
    """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{{ page.subject }}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">"""
    + _STYLE
    + """</head><body>
<header>DocuSign sandbox &middot; signing</header>
<main>
  <h1 id="subject">{{ page.subject }}</h1>
  <p class="muted">Signer: <strong id="signer-name">{{ page.signer_name }}</strong>
     &lt;{{ page.signer_email }}&gt; &middot; envelope <code>{{ page.envelope_id }}</code></p>
  {% if page.blurb %}<p>{{ page.blurb }}</p>{% endif %}
  {% for doc_id, name in page.documents %}
    <p class="muted">{{ name }}</p>
    <iframe title="{{ name }}" src="{{ action }}/documents/{{ doc_id }}"></iframe>
  {% endfor %}
  <div class="actions">
    <form method="post" action="{{ action }}">
      <input type="hidden" name="action" value="sign">
      <button id="sign" type="submit">Sign</button>
    </form>
    <form method="post" action="{{ action }}">
      <input type="hidden" name="action" value="decline">
      <label class="muted">Reason for declining (optional)<br>
        <textarea id="decline-reason" name="reason"></textarea></label><br>
      <button id="decline" type="submit">Decline</button>
    </form>
  </div>
</main></body></html>"""
)

MESSAGE_PAGE = (
    """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title>"""
    + _STYLE
    + """</head><body>
<header>DocuSign sandbox</header>
<main>
  <h1 id="title">{{ title }}</h1>
  <p id="message" data-event="{{ event or '' }}">{{ message }}</p>
  {% if subject %}<p class="muted">{{ subject }}</p>{% endif %}
</main></body></html>"""
)

INBOX_PAGE = (
    """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sandbox inbox</title>"""
    + _STYLE
    + """</head><body>
<header>DocuSign sandbox &middot; inbox</header>
<main>
  <h1>Open signing links</h1>
  <p class="muted">Email signers whose turn it is. Embedded signers sign through the app's own link.
     Clock: {{ now }}</p>
  <table>
    <tr><th>Envelope</th><th>Status</th><th>Recipient</th><th>Routing</th><th>Link</th></tr>
    {% for env in envelopes %}{% for r in env.recipients %}
    <tr>
      <td>{{ env.emailSubject }}<br><code>{{ env.envelopeId }}</code></td>
      <td>{{ env.status }} / {{ r.status }}</td>
      <td>{{ r.name }} &lt;{{ r.email }}&gt;<br><span class="muted">{{ r.type }}, {{ r.delivery }}</span></td>
      <td>{{ r.routingOrder }}</td>
      <td>{% if r.signing_url %}<a href="{{ r.signing_url }}">sign</a>{% endif %}</td>
    </tr>
    {% endfor %}{% else %}
    <tr><td colspan="5" class="muted">No envelopes yet.</td></tr>
    {% endfor %}
  </table>
</main></body></html>"""
)
