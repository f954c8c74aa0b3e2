// The inspector form's behaviour, without a framework: conditional fields (data-show-if) follow
// their toggles at once, key-value rows are added and removed within their limit, and the webhook
// URL can be copied. Listeners are delegated on the document, so forms swapped in by htmx need no
// set-up, and loading this file twice does nothing.
(function () {
  "use strict";
  if (window.sceneryNodeForm) {
    return;
  }
  window.sceneryNodeForm = true;

  function fieldValue(form, name) {
    var control = form.querySelector('[data-field="' + CSS.escape(name) + '"] [name]');
    if (!control) {
      return undefined;
    }
    return control.type === "checkbox" ? control.checked : control.value;
  }

  function matches(expected, actual) {
    if (typeof expected === "boolean") {
      return expected === (actual === true || actual === "true" || actual === "on");
    }
    return String(expected) === String(actual);
  }

  // Whether a field holds something typed: any of its text boxes (selects have defaults).
  function filled(form, name) {
    var row = form.querySelector('[data-field="' + CSS.escape(name) + '"]');
    if (!row) {
      return false;
    }
    return Array.prototype.some.call(row.querySelectorAll("input[type=text], textarea"), function (input) {
      return input.value.trim() !== "";
    });
  }

  function refresh(form) {
    form.querySelectorAll("[data-after]").forEach(function (row) {
      var waiting = !filled(form, row.getAttribute("data-field")) && !filled(form, row.getAttribute("data-after"));
      row.hidden = waiting && !row.querySelector(".errorlist");
    });
    form.querySelectorAll("[data-show-if]").forEach(function (row) {
      var conditions;
      try {
        conditions = JSON.parse(row.getAttribute("data-show-if"));
      } catch (error) {
        return;
      }
      row.hidden = !Object.keys(conditions).every(function (name) {
        return matches(conditions[name], fieldValue(form, name));
      });
    });
  }

  function renumber(group) {
    var label = group.getAttribute("data-label") || "";
    var rows = group.querySelectorAll("[data-pairs-rows] > [data-pairs-row]");
    rows.forEach(function (row, index) {
      var number = index + 1;
      var inputs = row.querySelectorAll("input");
      if (group.hasAttribute("data-conditions")) {
        row.querySelectorAll("[aria-label]").forEach(function (control) {
          control.setAttribute("aria-label", control.getAttribute("aria-label").replace(/ \d*(:|$)/, " " + number + "$1"));
        });
      } else if (inputs.length >= 2) {
        inputs[0].setAttribute("aria-label", label + " key " + number);
        inputs[1].setAttribute("aria-label", label + " value " + number);
      }
      var remove = row.querySelector("[data-pairs-remove]");
      if (remove && !group.hasAttribute("data-conditions")) {
        remove.setAttribute("aria-label", "Remove " + label + " pair " + number);
      }
    });
    var max = parseInt(group.getAttribute("data-max") || "0", 10);
    var add = group.querySelector("[data-pairs-add]");
    if (add) {
      add.disabled = max > 0 && rows.length >= max;
    }
  }

  function addRow(group) {
    var rows = group.querySelector("[data-pairs-rows]");
    var template = group.querySelector("template[data-pairs-template]");
    var max = parseInt(group.getAttribute("data-max") || "0", 10);
    if (!rows || !template || (max > 0 && rows.children.length >= max)) {
      return;
    }
    rows.appendChild(template.content.cloneNode(true));
    renumber(group);
    var first = rows.lastElementChild && rows.lastElementChild.querySelector("input");
    if (first) {
      first.focus();
    }
  }

  function removeRow(group, row) {
    var rows = group.querySelector("[data-pairs-rows]");
    if (rows && rows.children.length > 1) {
      row.remove();
    } else {
      row.querySelectorAll("input").forEach(function (input) {
        input.value = "";
      });
    }
    renumber(group);
    var next = group.querySelector("[data-pairs-rows] input");
    if (next) {
      next.focus();
    }
  }

  function copy(button) {
    var input = document.getElementById(button.getAttribute("data-copy"));
    if (!input) {
      return;
    }
    var done = function () {
      button.textContent = "Copied";
      window.setTimeout(function () {
        button.textContent = "Copy";
      }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(done);
    } else {
      input.select();
      document.execCommand("copy");
      done();
    }
  }

  document.addEventListener("change", function (event) {
    var form = event.target.closest && event.target.closest("[data-node-form]");
    if (form) {
      refresh(form);
    }
  });

  document.addEventListener("click", function (event) {
    var target = event.target.closest ? event.target : event.target.parentElement;
    if (!target) {
      return;
    }
    var add = target.closest("[data-pairs-add]");
    if (add) {
      addRow(add.closest("[data-pairs]"));
      return;
    }
    var remove = target.closest("[data-pairs-remove]");
    if (remove) {
      removeRow(remove.closest("[data-pairs]"), remove.closest("[data-pairs-row]"));
      return;
    }
    var copyButton = target.closest("[data-copy]");
    if (copyButton) {
      copy(copyButton);
    }
  });
})();
