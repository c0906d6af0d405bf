// Starts GOV.UK Frontend's components (docs/decisions/0009-design-system.md). A static file,
// loaded as a module from this server, because the Content Security Policy allows no inline
// script. The vendored module's URL comes from the <script> tag (data-govuk-frontend), so the
// hashed name the static files storage gives it in production is used.
const body = document.body;
// GOV.UK Frontend's CSS hides or shows JavaScript-only parts (the menu button) by these
// classes; set here because its template's inline snippet is not allowed.
body.classList.add("js-enabled");
if ("noModule" in HTMLScriptElement.prototype) {
  body.classList.add("govuk-frontend-supported");
}
const tag = document.querySelector("script[data-govuk-frontend]");
if (tag) {
  import(tag.dataset.govukFrontend).then(({ initAll }) => initAll());
}
