// Build the portal's static assets from npm packages (run by `npm run build`, which
// scripts/bootstrap runs after `npm ci`). Copies GOV.UK Frontend's precompiled CSS and JS, and its
// fonts and images, into exchange/static/govuk/ (git-ignored), so the portal needs no CDN and
// works offline.
//
// The precompiled CSS refers to its fonts and images as /assets/...; those URLs are made relative
// to the stylesheet (assets/...) so they resolve under /static/govuk/ wherever the app is mounted.
import { cp, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(import.meta.url);
const pkg = path.dirname(require.resolve("govuk-frontend/package.json"));
const src = path.join(pkg, "dist", "govuk");
const dest = path.join(root, "exchange", "static", "govuk");
const { version } = JSON.parse(await readFile(path.join(pkg, "package.json"), "utf8"));

await rm(dest, { recursive: true, force: true });
await mkdir(dest, { recursive: true });

const css = await readFile(path.join(src, "govuk-frontend.min.css"), "utf8");
const relative = css.replaceAll("url(/assets/", "url(assets/");
if (relative.includes("/assets/")) {
  throw new Error("govuk-frontend.min.css has asset URLs this script does not rewrite");
}
await writeFile(path.join(dest, "govuk-frontend.min.css"), relative);
const copied = ["govuk-frontend.min.css.map", "govuk-frontend.min.js", "govuk-frontend.min.js.map"];
for (const name of copied) {
  await cp(path.join(src, name), path.join(dest, name));
}
await cp(path.join(src, "assets"), path.join(dest, "assets"), { recursive: true });
await writeFile(path.join(dest, "VERSION"), `${version}\n`);

console.log(`build-assets: govuk-frontend ${version} -> ${path.relative(root, dest)}/`);
