// Start GOV.UK Frontend's components (header menu, service navigation, error summary focus,
// skip link, buttons...). A module script, so browsers GOV.UK Frontend does not support skip it.
import { initAll } from "../govuk/govuk-frontend.min.js";

initAll();
