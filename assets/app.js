// Portcullis web admin: copy buttons and the expiry date field. Everything works without it.
"use strict";

function copyText(text, button, source) {
  const show = (label) => {
    const before = button.dataset.label || button.textContent;
    button.dataset.label = before;
    button.textContent = label;
    button.classList.toggle("copied", label === "Copied");
    clearTimeout(button.revert);
    button.revert = setTimeout(() => { button.textContent = before; button.classList.remove("copied"); }, 1600);
  };
  // The selected-text copy runs inside the click, while the browser still counts it as the
  // user's gesture; the asynchronous clipboard API is the second try. When both fail the
  // secret is left selected for the keyboard.
  if (fallbackCopy(text)) {
    show("Copied");
  } else if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(() => show("Copied"), () => manualCopy(source, show));
  } else {
    manualCopy(source, show);
  }
}

function manualCopy(source, show) {
  if (source.select) { source.focus(); source.select(); }
  show("Press Ctrl+C");
}

// Copies through a selected, off-screen text area (works on plain-HTTP pages too).
function fallbackCopy(text) {
  const area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.className = "offscreen";
  document.body.appendChild(area);
  area.select();
  let ok = false;
  try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
  area.remove();
  return ok;
}

document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const source = document.getElementById(button.dataset.copy);
  if (!source) return;
  const text = "value" in source && source.value !== undefined ? source.value : source.textContent;
  copyText(text, button, source);
});

// Clicking the secret selects all of it, for those who copy with the keyboard.
document.addEventListener("focusin", (event) => {
  if (event.target.matches && event.target.matches("input.secret")) event.target.select();
});

// The date field matters only when "On a date…" is chosen.
function syncExpiry() {
  const select = document.getElementById("expiry");
  const field = document.getElementById("expires-on-field");
  if (!select || !field) return;
  const onDate = select.value === "date";
  field.hidden = !onDate;
  const input = field.querySelector("input");
  if (input) input.required = onDate;
}
document.addEventListener("change", (event) => { if (event.target.id === "expiry") syncExpiry(); });
document.addEventListener("DOMContentLoaded", syncExpiry);

// Close the System menu after picking an entry or pressing Escape.
document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape") return;
  document.querySelectorAll("details.dropdown[open]").forEach((d) => {
    d.open = false;
    d.querySelector("summary").focus();
  });
});
document.addEventListener("click", (event) => {
  document.querySelectorAll("details.dropdown[open]").forEach((d) => {
    if (!d.contains(event.target)) d.open = false;
  });
});
