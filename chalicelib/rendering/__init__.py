"""Contract documents: a sandboxed Jinja2 environment and template lookup by type and locale.

Public API (import from the submodules; this package imports nothing, for cold starts):
``render.render_contract``, ``render.RenderedDocument``, ``render.RenderError``,
``overrides.TemplateOverrides``, ``overrides.DictTemplateOverrides``,
``environment.get_environment``, ``anchors.sign_here_anchor`` / ``date_signed_anchor`` /
``full_name_anchor``.
"""
