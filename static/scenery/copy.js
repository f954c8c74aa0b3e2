// Copy buttons: [data-copy-target] copies the text (or value) of the element it names; the editor's
// panels use copyText for their own buttons.

export async function copyText(text, button) {
  let ok = false;
  try {
    await navigator.clipboard.writeText(text);
    ok = true;
  } catch {
    // Plain http on a LAN has no clipboard API: fall back to a selected textarea.
    const area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.append(area);
    area.select();
    ok = document.execCommand("copy");
    area.remove();
  }
  const label = button.textContent;
  button.textContent = ok ? "Copied" : "Copy failed";
  setTimeout(() => (button.textContent = label), 1500);
}

document.addEventListener("click", async (event) => {
  const button = event.target.closest && event.target.closest("[data-copy-target]");
  if (!button || button.closest("#editor")) return; // the editor's panels handle their own
  event.preventDefault();
  const source = document.querySelector(button.dataset.copyTarget);
  await copyText(source ? source.value ?? source.textContent : "", button);
});
