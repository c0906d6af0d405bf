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

// A list's filters fold away on a phone: each <form class="filters"> goes into a GOV.UK
// details element, closed on narrow screens unless a filter is in use (its summary says how
// many), and always open on wider ones, where the summary is hidden (concord.css). Without
// JavaScript the form simply shows.
const wide = window.matchMedia("(min-width: 40.0625em)");
const asked = new URLSearchParams(window.location.search);
for (const form of document.querySelectorAll("form.filters")) {
  const inUse = [...new Set(
    [...form.elements].map((field) => field.name).filter((name) => name && asked.get(name)),
  )].length;
  const details = document.createElement("details");
  details.className = "govuk-details filters-fold";
  const summary = document.createElement("summary");
  summary.className = "govuk-details__summary";
  const label = document.createElement("span");
  label.className = "govuk-details__summary-text";
  label.textContent = inUse ? `Filters (${inUse} in use)` : "Filters";
  summary.append(label);
  form.before(details);
  details.append(summary, form);
  const fit = () => { details.open = wide.matches || inUse > 0 || details.open; };
  details.open = wide.matches || inUse > 0;
  wide.addEventListener("change", fit);
}
