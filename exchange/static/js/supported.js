// Loaded first in <body>, before anything renders: marks the page as having JavaScript (and
// GOV.UK Frontend support) exactly as the GOV.UK template's inline snippet does, without an
// inline script, so the Content-Security-Policy needs no 'unsafe-inline'.
document.body.className +=
  " js-enabled" + ("noModule" in HTMLScriptElement.prototype ? " govuk-frontend-supported" : "");
