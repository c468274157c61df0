// The interactive API reference: renders /api/docs.json, keeps a bearer token in memory
// (never in storage), and sends "try it" requests from the browser.
"use strict";

let bearer = "";

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

function resolve(doc, schema) {
  if (schema && schema.$ref) return resolve(doc, doc.components.schemas[schema.$ref.split("/").pop()]);
  return schema || {};
}

function exampleFor(doc, operation) {
  const content = operation.requestBody && operation.requestBody.content["application/json"];
  if (!content) return null;
  const schema = resolve(doc, content.schema);
  return JSON.stringify(content.example || schema.example || {}, null, 2);
}

// Inline `code` and **bold** of the descriptions, built as DOM nodes (never innerHTML).
function rich(tag, text, attrs) {
  const node = el(tag, attrs);
  text.split(/(`[^`]+`|\*\*[^*]+\*\*)/).forEach((part) => {
    if (part.startsWith("`") && part.endsWith("`") && part.length > 1) node.append(el("code", { text: part.slice(1, -1) }));
    else if (part.startsWith("**") && part.endsWith("**") && part.length > 3) node.append(el("strong", { text: part.slice(2, -2) }));
    else node.append(part);
  });
  return node;
}

function accessLabel(operation) {
  const text = operation.description || "";
  if (!operation.security) return "No credential";
  if (text.includes("Full Access")) return "Full Access or admin";
  if (text.includes("administrator's session")) return "Admin session";
  if (text.includes("Read Access")) return "Read Access";
  return "Session";
}

function setAuthState() {
  document.getElementById("auth-state").textContent = bearer ? "Authorized (" + bearer.slice(0, 4) + "…)" : "Not authorized";
}

async function tryIt(doc, path, method, operation, form, output) {
  let url = path;
  const query = new URLSearchParams();
  for (const parameter of operation.parameters || []) {
    const value = form.querySelector('[name="param-' + parameter.name + '"]').value;
    if (parameter.in === "path") url = url.replace("{" + parameter.name + "}", encodeURIComponent(value));
    else if (value !== "") query.set(parameter.name, value);
  }
  if ([...query].length) url += "?" + query;
  const headers = { Accept: form.querySelector('[name="accept"]').value };
  if (bearer) headers.Authorization = "Bearer " + bearer;
  const init = { method: method.toUpperCase(), headers };
  const body = form.querySelector('[name="body"]');
  if (body) { init.body = body.value; headers["Content-Type"] = "application/json"; }
  output.replaceChildren(el("p", { class: "muted", text: "Sending…" }));
  try {
    const response = await fetch(url, init);
    const text = await response.text();
    let pretty = text;
    try { pretty = JSON.stringify(JSON.parse(text), null, 2); } catch (_) { /* not JSON */ }
    output.replaceChildren(
      el("p", { class: response.ok ? "status-ok" : "status-err", text: response.status + " " + response.statusText, "data-status": String(response.status) }),
      el("pre", { text: init.method + " " + url }),
      el("pre", { class: "response-body", text: pretty || "(no body)" }));
  } catch (error) {
    output.replaceChildren(el("p", { class: "status-err", text: "Request failed: " + error }));
  }
}

function renderOperation(doc, path, method, operation) {
  const id = (method + path).replace(/[^a-z0-9]+/gi, "-");
  const details = el("details", { class: "op", id });
  details.append(el("summary", {},
    el("span", { class: "method m-" + method, text: method.toUpperCase() }),
    el("span", { class: "path", text: path }),
    rich("span", operation.summary || "", { class: "summary" }),
    el("span", { class: "access", text: accessLabel(operation) })));
  const form = el("form", { class: "body" });
  if (operation.description) form.append(rich("p", operation.description));
  for (const parameter of operation.parameters || []) {
    const inputId = id + "-" + parameter.name;
    form.append(el("label", { for: inputId, text: parameter.name + " (" + parameter.in + ")" + (parameter.required ? " *" : "") }),
      el("input", { id: inputId, name: "param-" + parameter.name, placeholder: parameter.description || "" }));
  }
  const example = exampleFor(doc, operation);
  if (example !== null) {
    const bodyId = id + "-body";
    const textarea = el("textarea", { id: bodyId, name: "body", spellcheck: "false" });
    textarea.value = example;
    form.append(el("label", { for: bodyId, text: "Request body (application/json)" }), textarea);
  }
  const acceptId = id + "-accept";
  const accept = el("input", { id: acceptId, name: "accept" });
  accept.value = "application/json";
  form.append(el("label", { for: acceptId, text: "Accept" }), accept);
  const responses = el("ul", { class: "responses" });
  for (const [status, response] of Object.entries(operation.responses || {})) {
    responses.append(el("li", { text: status + " — " + (response.description || "") }));
  }
  form.append(el("label", { text: "Responses" }), responses);
  const output = el("div", { class: "output", "aria-live": "polite" });
  form.append(el("div", { class: "actions" }, el("button", { type: "submit", class: "primary", text: "Try it" })), output);
  form.addEventListener("submit", (event) => { event.preventDefault(); tryIt(doc, path, method, operation, form, output); });
  details.append(form);
  return details;
}

function render(doc) {
  document.getElementById("intro").replaceChildren(
    el("h2", { text: doc.info.title + " " + doc.info.version }),
    rich("p", doc.info.description || ""));
  const byTag = new Map((doc.tags || []).map((tag) => [tag.name, []]));
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const method of ["get", "post", "put", "patch", "delete"]) {
      const operation = item[method];
      if (!operation) continue;
      const tag = (operation.tags || ["Other"])[0];
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag).push(renderOperation(doc, path, method, operation));
    }
  }
  const container = document.getElementById("operations");
  container.replaceChildren();
  for (const [tag, operations] of byTag) {
    const description = (doc.tags || []).find((t) => t.name === tag);
    container.append(el("h2", { text: tag }));
    if (description && description.description) container.append(el("p", { class: "muted", text: description.description }));
    container.append(...operations);
  }
}

document.addEventListener("DOMContentLoaded", async () => {
  const dialog = document.getElementById("auth-dialog");
  const input = document.getElementById("auth-token");
  document.getElementById("authorize").addEventListener("click", () => { input.value = bearer; dialog.showModal(); input.focus(); });
  document.getElementById("auth-form").addEventListener("submit", () => { bearer = input.value.trim(); setAuthState(); });
  document.getElementById("auth-clear").addEventListener("click", () => { bearer = ""; input.value = ""; setAuthState(); dialog.close(); });
  try {
    const response = await fetch("/api/docs.json", { headers: { Accept: "application/json" } });
    render(await response.json());
  } catch (error) {
    document.getElementById("operations").replaceChildren(el("p", { class: "status-err", text: "Could not load /api/docs.json: " + error }));
  }
});
