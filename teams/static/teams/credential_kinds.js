// The credential form shows only the fields of the chosen kind (fields name their kinds in
// data-kinds). Without JavaScript every field stays visible and the server ignores the others.
function apply(select) {
  const form = select.form;
  if (!form) return;
  for (const input of form.querySelectorAll("[data-kinds]")) {
    const wrapper = input.closest(".form-field");
    if (wrapper) wrapper.hidden = !input.dataset.kinds.split(" ").includes(select.value);
  }
}

function applyAll(root) {
  for (const select of root.querySelectorAll('select[data-credential-kind]')) apply(select);
}

document.addEventListener("change", (event) => {
  if (event.target.matches('select[data-credential-kind]')) apply(event.target);
});
document.addEventListener("htmx:afterSwap", (event) => applyAll(event.target));
applyAll(document);
