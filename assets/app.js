// Portcullis web admin: copy buttons and the expiry date field. Everything works without it.
"use strict";

function copyText(text, button) {
  const done = () => {
    const label = button.textContent;
    button.textContent = "Copied";
    button.classList.add("copied");
    setTimeout(() => { button.textContent = label; button.classList.remove("copied"); }, 1600);
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done, () => fallbackCopy(text) && done());
  } else if (fallbackCopy(text)) {
    done();
  }
}

// Plain-HTTP pages have no clipboard API: copy through a selected, off-screen text area.
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
  copyText(text, button);
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
