// BookRec progressive enhancements. Every page works without this file.
(function () {
  "use strict";

  // Header search: as-you-type suggestions from /search/suggest/.
  function setUpSuggestions() {
    const input = document.getElementById("site-search");
    const list = document.getElementById("search-suggestions");
    if (!input || !list || !window.fetch) return;
    let timer = null;
    let controller = null;
    let active = -1;

    function close() { list.hidden = true; list.innerHTML = ""; active = -1; input.setAttribute("aria-expanded", "false"); }

    function render(results) {
      list.innerHTML = "";
      results.forEach(function (book, i) {
        const li = document.createElement("li");
        li.setAttribute("role", "option");
        li.id = "suggestion-" + i;
        const a = document.createElement("a");
        a.href = book.url;
        if (book.cover_url) {
          const img = document.createElement("img");
          img.src = book.cover_url; img.alt = ""; img.loading = "lazy";
          a.appendChild(img);
        }
        const text = document.createElement("span");
        const title = document.createElement("strong");
        title.textContent = book.title;
        text.appendChild(title);
        text.appendChild(document.createElement("br"));
        const meta = document.createElement("small");
        meta.textContent = book.authors.join(", ") + (book.year ? " · " + book.year : "");
        text.appendChild(meta);
        a.appendChild(text);
        li.appendChild(a);
        list.appendChild(li);
      });
      list.hidden = results.length === 0;
      input.setAttribute("aria-expanded", results.length ? "true" : "false");
    }

    input.addEventListener("input", function () {
      clearTimeout(timer);
      const q = input.value.trim();
      if (q.length < 2) { close(); return; }
      timer = setTimeout(function () {
        if (controller) controller.abort();
        controller = new AbortController();
        fetch(input.dataset.suggestUrl + "?q=" + encodeURIComponent(q), { signal: controller.signal, headers: { Accept: "application/json" } })
          .then(function (r) { return r.ok ? r.json() : { results: [] }; })
          .then(function (data) { render(data.results || []); })
          .catch(function () {});
      }, 150);
    });

    input.addEventListener("keydown", function (event) {
      const items = list.querySelectorAll("li");
      if (list.hidden || !items.length) return;
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        if (active >= 0) items[active].removeAttribute("aria-selected");
        active = (active + (event.key === "ArrowDown" ? 1 : -1) + items.length) % items.length;
        items[active].setAttribute("aria-selected", "true");
        input.setAttribute("aria-activedescendant", items[active].id);
      } else if (event.key === "Enter" && active >= 0) {
        event.preventDefault();
        window.location = items[active].querySelector("a").href;
      } else if (event.key === "Escape") {
        close();
      }
    });

    document.addEventListener("click", function (event) {
      if (!list.contains(event.target) && event.target !== input) close();
    });
  }

  document.addEventListener("DOMContentLoaded", setUpSuggestions);
})();
