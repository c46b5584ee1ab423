/* redline ui: the pages. Routes live in the address's hash:
 *
 *   #/?q=&tools=1&client=&model=&wire=&since=&until=&task=&offset=   conversations
 *   #/c/ID                                                           one conversation
 *   #/tasks  #/task/NAME  #/runs  #/run/ID                           tasks and runs
 *
 * Data comes from the JSON API of the same server; every value from it is shown as text
 * (render.js). Requests that change something carry the page's token.
 */
"use strict";

(() => {
  const { h } = R;
  const app = document.getElementById("app");
  const TOKEN = document.querySelector('meta[name="redline-token"]').content;
  let checksCache = null;
  let current = { page: null, id: null, render: null };

  /* ---- the API ---------------------------------------------------------------------------- */

  async function api(path, body) {
    const options = body === undefined ? {} : {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Redline-Token": TOKEN },
      body: JSON.stringify(body),
    };
    const response = await fetch(path, options);
    let data = null;
    try {
      data = await response.json();
    } catch (e) {
      throw new Error(`${response.status} ${response.statusText}`);
    }
    if (!response.ok && !(data && "saved" in data)) {
      throw new Error((data && data.error) || `${response.status} ${response.statusText}`);
    }
    return data;
  }

  function params(hashQuery) {
    return new URLSearchParams(hashQuery || "");
  }

  function go(hash) {
    if (location.hash === hash) route();
    else location.hash = hash;
  }

  function failure(error) {
    return h("p", { class: "error" }, String(error.message || error));
  }

  function show(...nodes) {
    app.replaceChildren();
    R.append(app, nodes);
  }

  function setNav(name) {
    for (const a of document.querySelectorAll("[data-nav]")) {
      a.classList.toggle("active", a.dataset.nav === name);
    }
  }

  /* ---- routing ----------------------------------------------------------------------------- */

  async function route() {
    const hash = location.hash.replace(/^#/, "") || "/";
    const [path, query] = hash.split("?");
    const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
    try {
      if (parts.length === 0) return await conversationsPage(params(query));
      if (parts[0] === "c" && parts[1]) return await conversationPage(parts[1]);
      if (parts[0] === "tasks") return await tasksPage();
      if (parts[0] === "task" && parts[1]) return await taskPage(parts[1]);
      if (parts[0] === "runs") return await runsPage();
      if (parts[0] === "run" && parts[1]) return await runPage(parts[1]);
      show(h("p", null, "No such page. ", h("a", { href: "#/" }, "Conversations")));
    } catch (error) {
      show(failure(error));
    }
  }

  /* ---- conversations ----------------------------------------------------------------------- */

  const FILTERS = ["q", "tools", "client", "model", "wire", "since", "until", "task", "offset"];

  async function conversationsPage(query, quiet) {
    setNav("conversations");
    current = { page: "conversations", id: null, query };
    const shown = new Set(
      [...document.querySelectorAll("tr[data-conversation]")].map((tr) => tr.dataset.conversation)
    );
    const apiQuery = new URLSearchParams();
    for (const key of FILTERS) if (query.get(key)) apiQuery.set(key, query.get(key));
    const [page, facets] = await Promise.all([
      api("/api/conversations?" + apiQuery.toString()),
      api("/api/facets"),
    ]);
    if (current.page !== "conversations" || current.query !== query) return;
    const form = filterForm(query, facets);
    const table = h("table", { class: "list conversations" },
      h("thead", null, h("tr", null,
        h("th", null, "conversation"), h("th", null, "agent"), h("th", null, "model"),
        h("th", { class: "num" }, "calls"), h("th", { class: "num" }, "tokens in \u2192 out"),
        h("th", null, "last call"), h("th", null, "tasks"))),
      h("tbody", null, page.conversations.map((c) => {
        const fresh = quiet && !shown.has(c.id);
        return h("tr", { dataset: { conversation: c.id }, class: fresh ? "fresh" : null },
          h("td", null,
            h("a", { href: "#/c/" + encodeURIComponent(c.id), class: "title" }, c.title || c.id),
            c.snippet ? h("div", { class: "snippet" }, highlight(c.snippet, query.get("q"))) : null),
          h("td", null, c.client || "\u2013"),
          h("td", null, c.model || "\u2013", h("div", { class: "muted small" }, c.wire || "")),
          h("td", { class: "num" }, R.number(c.calls)),
          h("td", { class: "num" }, `${R.number(c.input_tokens)} \u2192 ${R.number(c.output_tokens)}`),
          h("td", null, R.when(c.last_at)),
          h("td", null, c.tasks ? h("span", { class: "badge" }, `${c.tasks} task${c.tasks > 1 ? "s" : ""}`) : ""));
      })));
    const offset = page.offset;
    const pager = h("div", { class: "pager" },
      h("span", { class: "count" }, page.total
        ? `${R.number(offset + 1)}\u2013${R.number(offset + page.conversations.length)} of ${R.number(page.total)} conversations`
        : "No conversations match."),
      h("button", { type: "button", disabled: offset === 0, onclick: () => goList(query, { offset: Math.max(offset - page.limit, 0) }) }, "\u2190 newer"),
      h("button", { type: "button", disabled: offset + page.limit >= page.total, onclick: () => goList(query, { offset: offset + page.limit }) }, "older \u2192"));
    const empty = page.total === 0 && !query.toString()
      ? h("p", { class: "muted" }, "Nothing recorded yet. Start ", h("code", null, "redline proxy"),
        " and point your agent at it; calls appear here as they are recorded.")
      : null;
    show(h("h1", null, "Conversations"), form, empty, table, pager);
  }

  function highlight(text, needle) {
    const q = (needle || "").trim().toLowerCase();
    if (!q) return text;
    const out = [];
    let rest = text;
    let at;
    while (q && (at = rest.toLowerCase().indexOf(q)) >= 0) {
      out.push(rest.slice(0, at), h("mark", null, rest.slice(at, at + q.length)));
      rest = rest.slice(at + q.length);
    }
    out.push(rest);
    return out;
  }

  function goList(query, changes) {
    const next = new URLSearchParams(query);
    for (const [key, value] of Object.entries(changes)) {
      if (value === null || value === "" || value === 0 || value === false) next.delete(key);
      else next.set(key, String(value));
    }
    const text = next.toString();
    go("#/" + (text ? "?" + text : ""));
  }

  function filterForm(query, facets) {
    const select = (name, label, values) => h("label", null, label,
      h("select", { name },
        h("option", { value: "" }, "any"),
        values.map((v) => h("option", { value: v.value, selected: query.get(name) === v.value },
          `${v.value} (${R.number(v.conversations)})`))));
    const form = h("form", { class: "filters", role: "search" },
      h("input", { type: "search", name: "q", placeholder: "Search messages\u2026", value: query.get("q") || "", "aria-label": "search" }),
      h("label", { class: "check", title: "Also search tool calls and their results (file contents, command output): slower on big stores" },
        h("input", { type: "checkbox", name: "tools", checked: query.get("tools") === "1" }), "tools too"),
      select("client", "agent", facets.clients),
      select("model", "model", facets.models),
      select("wire", "wire format", facets.wires),
      h("label", null, "from", h("input", { type: "date", name: "since", value: query.get("since") || "" })),
      h("label", null, "to", h("input", { type: "date", name: "until", value: query.get("until") || "" })),
      h("label", null, "tasks",
        h("select", { name: "task" },
          h("option", { value: "" }, "any"),
          h("option", { value: "yes", selected: query.get("task") === "yes" }, "has a task"),
          h("option", { value: "no", selected: query.get("task") === "no" }, "no task"))),
      h("button", { type: "submit" }, "Search"));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const data = new FormData(form);
      const next = {};
      for (const key of FILTERS) next[key] = data.get(key) || null;
      next.tools = data.get("tools") ? "1" : null;
      next.offset = null;
      goList(new URLSearchParams(), next);
    });
    for (const el of form.querySelectorAll("select, input[type=date], input[type=checkbox]")) {
      el.addEventListener("change", () => form.requestSubmit());
    }
    return form;
  }

  /* ---- one conversation -------------------------------------------------------------------- */

  /* A long conversation comes a page at a time: its first rows and its last, and what lies
   * between on demand. A row is a call, or a run of identical calls (an agent retrying). */
  const MORE_ROWS = 50;

  async function conversationPage(id, quiet) {
    setNav("conversations");
    const again = current.page === "conversation" && current.id === id;
    /* Redrawn for new calls: as many rows from the start as were shown, and the newest. */
    const query = again && current.head > 0 ? `?limit=${current.head}` : "";
    const data = await api("/api/conversations/" + encodeURIComponent(id) + query);
    const previous = again ? current.ids : null;
    current = { page: "conversation", id, ids: new Set(), loaded: [], head: 0 };
    const c = data.conversation;
    const scroll = window.scrollY;
    const timeline = h("div", { class: "timeline" });
    const rows = [...data.calls].sort((a, b) => a.row - b.row);
    let next = 0;
    for (const batch of runs(rows)) {
      if (batch[0].row > next) timeline.appendChild(gap(next, batch[0].row));
      R.append(timeline, cards(batch, previous));
      next = batch[batch.length - 1].row + 1;
    }
    if (next < data.rows) timeline.appendChild(gap(next, data.rows));
    show(
      h("p", { class: "crumbs" }, h("a", { href: "#/" }, "Conversations"), " / ", c.id),
      h("h1", null, c.title || c.id),
      h("p", { class: "facts" },
        `${c.client || "unknown agent"} \u00B7 ${c.model || "\u2013"} \u00B7 ${c.wire || "\u2013"} \u00B7 ` +
        `${R.number(c.calls)} calls \u00B7 ${R.when(c.started_at)} \u2192 ${R.when(c.last_at)} \u00B7 ` +
        `tokens ${R.number(c.input_tokens)} \u2192 ${R.number(c.output_tokens)}, cache read ${R.number(c.cache_read_tokens)}`,
        c.tasks ? h("span", { class: "badge" }, `${c.tasks} task${c.tasks > 1 ? "s" : ""}`) : null),
      timeline
    );
    if (quiet) window.scrollTo(0, scroll);
  }

  /* Rows in runs of consecutive row numbers. */
  function runs(rows) {
    const out = [];
    for (const row of rows) {
      const run = out[out.length - 1];
      if (run && run[run.length - 1].row + 1 === row.row) run.push(row);
      else out.push([row]);
    }
    return out;
  }

  /* The cards of consecutive rows, remembered as shown. */
  function cards(rows, previous) {
    const results = toolResults(rows);
    for (const row of rows) {
      current.ids.add(row.id);
      current.loaded.push(row);
    }
    current.loaded.sort((a, b) => a.row - b.row);
    /* How many rows from the start are shown without a gap: a redraw shows as many. */
    for (const row of current.loaded) if (row.row === current.head) current.head = row.row + 1;
    return rows.map((call) => callCard(call, results, previous && !previous.has(call.id), current.loaded));
  }

  /* Rows `from` to `to` (exclusive) not shown yet, and buttons that fetch them. */
  function gap(from, to) {
    const hidden = to - from;
    const box = h("div", { class: "gap", dataset: { from, to } },
      h("span", { class: "muted" }, `${R.number(hidden)} more row${hidden === 1 ? "" : "s"} of calls not shown`));
    const fetchRows = async (offset, limit, button) => {
      for (const b of box.querySelectorAll("button")) b.disabled = true;
      button.textContent = "Loading\u2026";
      try {
        const data = await api(`/api/conversations/${encodeURIComponent(current.id)}?offset=${offset}&limit=${limit}&last=0`);
        const rows = data.calls.filter((r) => r.row >= from && r.row < to).sort((a, b) => a.row - b.row);
        if (!rows.length) throw new Error("no rows came back; reload the page");
        const start = rows[0].row, end = rows[rows.length - 1].row + 1;
        const parts = [];
        if (start > from) parts.push(gap(from, start));
        for (const batch of runs(rows)) parts.push(...cards(batch, null));
        if (end < to) parts.push(gap(end, to));
        box.replaceWith(...parts);
      } catch (error) {
        box.replaceChildren(failure(error));
      }
    };
    const count = Math.min(MORE_ROWS, hidden);
    const later = h("button", { type: "button", class: "more-next" }, `Show the next ${count}`);
    later.addEventListener("click", () => fetchRows(from, count, later));
    box.appendChild(later);
    if (hidden > MORE_ROWS) {
      const earlier = h("button", { type: "button", class: "more-previous" }, `Show the last ${count}`);
      earlier.addEventListener("click", () => fetchRows(to - count, count, earlier));
      box.appendChild(earlier);
    }
    return box;
  }

  /* Tool results by the id of the call they answer, when that call is among these rows: each
   * is shown with its call (a result whose call is on another page keeps its own row). */
  function toolResults(calls) {
    const asked = new Set();
    for (const call of calls) {
      for (const p of call.answer ? call.answer.parts : []) if (p.type === "tool_call") asked.add(p.id);
    }
    const found = {};
    for (const call of calls) {
      for (const m of call.added) {
        for (const p of m.parts) if (p.type === "tool_result" && asked.has(p.call_id)) found[p.call_id] = p;
      }
    }
    return found;
  }

  function callCard(call, results, fresh, calls) {
    const u = call.usage;
    const status = call.status === "complete" ? null :
      h("span", { class: "bad" }, ` ${call.status}${call.http_status ? " " + call.http_status : ""}`);
    const repeats = call.repeats > 1
      ? [h("span", { class: "badge repeats" }, `\u00D7 ${R.number(call.repeats)}`),
        h("span", { class: "muted small" }, ` identical calls (the same request, answer and outcome), the last ${R.when(call.last_at)}`), " "]
      : null;
    const card = h("section", { class: "call" + (fresh ? " fresh" : ""), id: "call-" + call.id, dataset: { call: call.id, row: call.row } },
      h("header", null,
        h("b", null, `#${call.seq ?? "?"}`), repeats, " ",
        h("span", { class: "muted" }, R.when(call.started_at)), " \u00B7 ",
        call.model || "\u2013", status,
        h("span", { class: "stats" },
          `in ${R.number(u.input_tokens)}` +
          (u.cache_read_tokens ? ` (cache ${R.number(u.cache_read_tokens)})` : "") +
          ` \u00B7 out ${R.number(u.output_tokens)}` +
          (u.reasoning_tokens ? ` (reasoning ${R.number(u.reasoning_tokens)})` : "") +
          ` \u00B7 first byte ${R.ms(call.timings.ttfb_ms)} \u00B7 total ${R.ms(call.timings.duration_ms)}`),
        h("a", { class: "raw", href: "/api/calls/" + encodeURIComponent(call.id), target: "_blank", rel: "noopener" }, "raw JSON")),
    );
    if (call.error || call.parse_error) {
      card.appendChild(h("p", { class: "error" }, call.error || call.parse_error));
    }
    const resends = call.parent_seq !== null && call.kept !== null && call.kept === call.messages && call.added.length === 0;
    if (resends) {
      card.appendChild(h("p", { class: "muted small lineage" }, `The same request as #${call.parent_seq}: it adds nothing but its answer.`));
    } else if (call.parent_seq !== null && !call.continues_previous) {
      card.appendChild(h("p", { class: "muted small lineage" }, `Continues #${call.parent_seq}.`));
    }
    if (call.system) {
      card.appendChild(h("details", { class: "system" },
        h("summary", null, call.system_changed ? "system prompt (changed)" : "system prompt"),
        call.system.map((p) => part(p, results))));
    } else if (call.system_from !== null) {
      card.appendChild(h("p", { class: "muted small" }, `System prompt changed: the one of #${call.system_from}.`));
    }
    if (call.tools) {
      card.appendChild(h("details", { class: "tools" },
        h("summary", null, `${call.tools_changed ? "tools (changed)" : "tools"}: ${call.tools.map((t) => t.name).join(", ")}`),
        call.tools.map((t) => h("div", { class: "tool-def" },
          h("b", null, t.name), t.description ? h("div", { class: "muted" }, t.description) : null,
          t.parameters ? R.code(JSON.stringify(t.parameters, null, 2), "json") : null))));
    } else if (call.tools_from !== null) {
      card.appendChild(h("p", { class: "muted small" }, `Tools changed: those of #${call.tools_from}.`));
    }
    if (call.rewritten) {
      card.appendChild(h("p", { class: "note" }, call.kept
        ? `This request branches off after ${call.kept} of its messages, where an earlier call went on differently (history edited or compacted, or another thread of the session).`
        : "This request starts afresh: no earlier call of the conversation sent any of its messages (another thread of the session)."));
    }
    const added = call.added.filter((m) => !(m.role === "tool" && m.parts.every((p) => p.type === "tool_result" && p.call_id in results)));
    const hidden = call.added.length - added.length;
    if (hidden) {
      card.appendChild(h("p", { class: "muted small" },
        `+ ${hidden} tool result message${hidden > 1 ? "s" : ""} (shown with ${hidden > 1 ? "their calls" : "its call"} above)`));
    }
    for (const m of added) card.appendChild(message(m, results));
    if (call.answer) {
      const answer = message(call.answer, results, `answer (${call.finish_reason || "no finish reason"})`);
      answer.classList.add("answer");
      const flag = h("button", { type: "button", class: "make-task" }, "Make a task");
      flag.addEventListener("click", () => {
        flag.disabled = true;
        card.appendChild(flagForm(call, () => { flag.disabled = false; }, calls));
      });
      answer.querySelector(".role").appendChild(flag);
      card.appendChild(answer);
    }
    return card;
  }

  function message(m, results, title) {
    const role = m.role;
    const box = h("div", { class: "msg role-" + role },
      h("div", { class: "role" }, title || role));
    const body = m.parts.map((p) => part(p, results));
    if (role === "system" || role === "developer") {
      box.appendChild(h("details", null, h("summary", null, `${role} message`), body));
    } else {
      R.append(box, body);
    }
    return box;
  }

  function part(p, results) {
    switch (p.type) {
      case "text":
        return R.markdown(p.text);
      case "thinking":
        return h("details", { class: "thinking" },
          h("summary", null, p.text ? "thinking" : "thinking (redacted)"),
          p.text ? R.markdown(p.text) : null);
      case "tool_call":
        return toolCall(p, results[p.id]);
      case "tool_result":
        return toolResult(p);
      case "image":
        return h("p", { class: "muted" }, `[image ${p.media_type || ""}]`);
      default:
        return h("details", { class: "opaque" }, h("summary", null, `[${(p.data && p.data.type) || p.type}]`),
          R.code(JSON.stringify(p.data || p, null, 2), "json"));
    }
  }

  function toolCall(p, result) {
    let args = null;
    try {
      args = JSON.parse(p.arguments);
    } catch (e) {
      args = null;
    }
    const box = h("div", { class: "tool-call" },
      h("div", { class: "tool-head" }, h("b", null, p.name), h("span", { class: "muted small" }, ` ${p.id}`),
        p.parse_error ? h("span", { class: "bad" }, " (arguments cut off)") : null));
    if (args && typeof args === "object" && !Array.isArray(args)) {
      const path = args.file_path || args.path || args.filename || "";
      for (const [key, value] of Object.entries(args)) {
        if (typeof value === "string" && (value.includes("\n") || value.length > 80)) {
          const lang = key === "command" || key === "cmd" ? "bash" : R.language(null, path);
          box.appendChild(h("div", { class: "arg" }, h("span", { class: "key" }, key), R.code(value, lang)));
        } else {
          box.appendChild(h("div", { class: "arg" }, h("span", { class: "key" }, key), " ",
            typeof value === "string" ? value : JSON.stringify(value)));
        }
      }
    } else {
      box.appendChild(R.code(args === null ? p.arguments : JSON.stringify(args, null, 2), args === null ? null : "json"));
    }
    if (result) box.appendChild(toolResult(result, true));
    return box;
  }

  function toolResult(p, paired) {
    const text = typeof p.content === "string" ? p.content :
      (p.content || []).map((c) => (c.type === "text" ? c.text : `[${c.type}]`)).join("\n");
    const lines = text.split("\n").length;
    return h("details", { class: "tool-result" + (p.is_error ? " is-error" : ""), open: !paired && lines <= 12 },
      h("summary", null, `${p.is_error ? "tool error" : "result"} \u00B7 ${R.number(lines)} line${lines === 1 ? "" : "s"}` + (paired ? "" : ` \u00B7 ${p.call_id}`)),
      h("pre", { class: "plain" }, text));
  }

  /* ---- making a task ---------------------------------------------------------------------- */

  async function checks() {
    if (!checksCache) checksCache = (await api("/api/checks")).analyzers;
    return checksCache;
  }

  function specOf(check, form) {
    const options = {};
    for (const o of check.options) {
      const input = form.querySelector(`[data-check="${check.name}"][data-option="${o.name}"]`);
      if (!input) continue;
      let value;
      if (o.type === "bool") value = input.checked;
      else if (o.type === "int") value = input.value === "" ? null : Number(input.value);
      else value = input.value;
      const fallback = o.default === null || o.default === undefined ? (o.type === "bool" ? false : "") : o.default;
      /* An empty required option is left out: the server then says it is needed. */
      if (value === null || value === "") continue;
      if (value === fallback) continue;
      options[o.name] = value;
    }
    return Object.keys(options).length ? `${check.name}:${JSON.stringify(options)}` : check.name;
  }

  function flagForm(call, closed, calls) {
    const panel = h("div", { class: "flag" }, h("p", { class: "muted" }, "Loading the checks\u2026"));
    const toolCalls = (call.answer ? call.answer.parts : []).filter((p) => p.type === "tool_call");
    checks().then((list) => {
      const form = h("form", { class: "flag-form" });
      const checkRows = list.map((c) => checkRow(c, c.name === "broad-except"));
      const goodKind = h("select", { name: "good-kind" },
        h("option", { value: "" }, "none"), h("option", { value: "code" }, "paste code"),
        h("option", { value: "call" }, "another call's answer"));
      const goodCode = h("div", { class: "good-code", hidden: true },
        h("label", null, "file path ", h("input", { name: "good-path", placeholder: "as the bad output's file" })),
        h("textarea", { name: "good-code", rows: 8, placeholder: "The code a good answer would write" }));
      /* Any call's answer, by id; this conversation's other calls are offered. */
      const listId = "calls-" + call.id;
      const goodCall = h("div", { class: "good-call", hidden: true },
        h("label", null, "call ", h("input", { name: "good-call", list: listId, placeholder: "a call id or prefix", size: 30 })),
        h("datalist", { id: listId }, (calls || []).filter((c) => c.id !== call.id && c.answer).map((c) =>
          h("option", { value: c.id }, `#${c.seq}: ${answerPreview(c.answer)}`))));
      goodKind.addEventListener("change", () => {
        goodCode.hidden = goodKind.value !== "code";
        goodCall.hidden = goodKind.value !== "call";
      });
      const verdicts = h("div", { class: "verdicts" });
      const outcome = h("div", { class: "outcome" });
      R.append(form, [
        h("h3", null, `Make a task from call #${call.seq}`),
        h("fieldset", null, h("legend", null, "Checks that catch what went wrong"), checkRows),
        h("div", { class: "row" },
          toolCalls.length > 1 ? h("label", null, "keep only tool call ",
            h("select", { name: "tool_call" }, h("option", { value: "" }, "all"),
              toolCalls.map((t, n) => h("option", { value: n + 1 }, `${n + 1}: ${t.name}`)))) : null,
          h("label", null, "cut the transcript ", h("input", { type: "number", name: "drop_last", min: 0, value: 0, class: "short" }), " messages before the call")),
        h("div", { class: "row" },
          h("label", null, "name ", h("input", { name: "name", placeholder: "made from the check and the title" })),
          h("label", { class: "grow" }, "note ", h("input", { name: "note", placeholder: "What went wrong, in your words" }))),
        h("fieldset", null, h("legend", null, "Known-good output (optional): every check must pass on it"),
          goodKind, goodCode, goodCall),
        draftRow(),
        h("div", { class: "row" },
          h("button", { type: "button", class: "run-checks" }, "Run checks"),
          h("label", { class: "check" }, h("input", { type: "checkbox", name: "force" }),
            "force: keep it even if no check fails on the output, or it is a task already"),
          h("button", { type: "submit", class: "primary" }, "Save task"),
          h("button", { type: "button", class: "cancel" }, "Close")),
        outcome, verdicts,
      ]);
      const body = () => {
        const data = new FormData(form);
        const chosen = list.filter((c) => data.getAll("check").includes(c.name)).map((c) => specOf(c, form));
        const good = goodKind.value === "code" ? { code: data.get("good-code") || "", path: data.get("good-path") || null }
          : goodKind.value === "call" && data.get("good-call") ? { call: data.get("good-call") } : null;
        return {
          call: call.id, checks: chosen, name: data.get("name") || null, note: data.get("note") || "",
          tool_call: data.get("tool_call") ? Number(data.get("tool_call")) : null,
          drop_last: Number(data.get("drop_last") || 0), force: !!data.get("force"), good,
        };
      };
      let timer = null;
      let sequence = 0;
      /* Once saved, the form is done: a check asked for after the save (leaving the name
       * field asks, as the Save button is pressed) would find the name taken. */
      let saved = false;
      const run = async () => {
        if (saved) return;
        const mine = ++sequence;
        const b = body();
        if (!b.checks.length) {
          verdicts.replaceChildren(h("p", { class: "muted" }, "Choose at least one check."));
          return;
        }
        verdicts.replaceChildren(h("p", { class: "muted" }, "Running the checks\u2026"));
        try {
          const result = await api(`/api/calls/${encodeURIComponent(call.id)}/check`, b);
          if (mine !== sequence) return;
          const name = form.querySelector("[name=name]");
          name.placeholder = result.task;
          verdicts.replaceChildren(judged(result));
        } catch (error) {
          if (mine === sequence) verdicts.replaceChildren(failure(error));
        }
      };
      const later = () => {
        clearTimeout(timer);
        if (!saved) timer = setTimeout(run, 350);
      };
      form.addEventListener("change", later);
      form.querySelector(".run-checks").addEventListener("click", run);
      form.querySelector(".draft-check").addEventListener("click", () => draftCheck(form, body(), (check) => {
        list.push(check);
        form.querySelector("fieldset").append(checkRow(check, true));
        run();
      }));
      form.querySelector(".cancel").addEventListener("click", () => {
        panel.remove();
        closed();
      });
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        if (saved) return;
        /* The save answers with the verdicts: no check asked for before it may land after. */
        clearTimeout(timer);
        sequence++;
        outcome.replaceChildren(h("p", { class: "muted" }, "Saving\u2026"));
        try {
          const result = await api("/api/tasks", body());
          verdicts.replaceChildren(judged(result));
          if (result.saved) {
            saved = true;
            clearTimeout(timer);
            form.querySelector("button[type=submit]").disabled = true;
            form.querySelector(".run-checks").disabled = true;
            const overrode = [];
            if (result.refused && result.duplicates.length) overrode.push(`the same as ${result.duplicates.join(", ")}`);
            if (result.refused && !result.catches) overrode.push("no check fails on its original output");
            outcome.replaceChildren(h("p", { class: "ok saved" }, "Saved task ",
              h("a", { href: "#/task/" + encodeURIComponent(result.task) }, result.task),
              overrode.length ? ` (forced: ${overrode.join("; ")})` : "", "."));
          } else {
            outcome.replaceChildren(h("p", { class: "error refused" }, "Not saved: ", result.refused));
          }
        } catch (error) {
          outcome.replaceChildren(failure(error));
        }
      });
      panel.replaceChildren(form);
      run();
    }).catch((error) => panel.replaceChildren(failure(error)));
    return panel;
  }

  function checkRow(c, checked) {
    return h("div", { class: "check-row" },
      h("label", { class: "check" },
        h("input", { type: "checkbox", name: "check", value: c.name, checked }),
        h("b", null, c.name), " ", h("span", { class: "muted" }, c.description),
        c.origin !== "built-in" ? h("span", { class: "badge" }, c.origin) : null),
      c.options.length ? h("div", { class: "options" }, c.options.map((o) => optionInput(c, o))) : null);
  }

  /* "Draft a check": a model writes one from the note (and the known-good output), the sandbox
   * proves it (`redline draft`); a check that holds is saved and offered in the form. */
  function draftRow() {
    return h("div", { class: "row draft" },
      h("label", { class: "grow" }, "model ", h("input", { name: "draft-model", size: 40,
        placeholder: "a model of redline.toml, or WIRE:MODEL_ID@BASE_URL" })),
      h("button", { type: "button", class: "draft-check" }, "Draft a check"),
      h("div", { class: "drafted" }));
  }

  async function draftCheck(form, body, offer) {
    const out = form.querySelector(".drafted");
    const button = form.querySelector(".draft-check");
    const model = form.querySelector("[name=draft-model]").value.trim();
    button.disabled = true;
    out.replaceChildren(h("p", { class: "muted" }, "Drafting: the model writes a check from the note, the sandbox proves it…"));
    try {
      const result = await api(`/api/calls/${encodeURIComponent(body.call)}/draft`, { note: body.note, model, good: body.good });
      const lines = result.attempts.map((a) => h("li", { class: a.held ? "ok" : "refused" },
        `attempt ${a.number}: `, a.held ? `holds: ${a.check}` : `refused: ${a.reason}`));
      const found = [];
      if (result.history) {
        found.push(h("p", null, `Over the recorded history it flags ${result.history.flagged} of ${result.history.scanned} other answers.`));
      }
      if (result.saved) {
        checksCache = null;
        const check = (await checks()).find((c) => c.name === result.check.name);
        if (check) offer(check);
        found.unshift(h("p", { class: "ok saved" }, `Saved check ${result.check.name} to ${result.check.path}; it is chosen above.`));
      } else {
        found.unshift(h("p", { class: "error refused" }, "No draft held; nothing was saved."));
      }
      out.replaceChildren(h("ul", { class: "attempts" }, lines), ...found);
    } catch (error) {
      out.replaceChildren(failure(error));
    } finally {
      button.disabled = false;
    }
  }

  function answerPreview(message) {
    const text = message.parts.map((p) => (p.type === "text" ? p.text : p.type === "tool_call" ? `[${p.name}]` : "")).join(" ");
    const flat = text.replace(/\s+/g, " ").trim();
    return flat.length > 80 ? flat.slice(0, 79) + "\u2026" : flat;
  }

  function optionInput(check, o) {
    const data = { check: check.name, option: o.name };
    let input;
    if (o.type === "bool") input = h("input", { type: "checkbox", checked: !!o.default, dataset: data });
    else if (o.type === "choice") {
      input = h("select", { dataset: data }, o.choices.map((c) => h("option", { value: c, selected: c === o.default }, c)));
    } else if (o.type === "int") input = h("input", { type: "number", value: o.default ?? "", dataset: data, class: "short" });
    else input = h("input", { value: o.default ?? "", placeholder: o.required ? "required" : "", dataset: data });
    return h("label", { class: "option", title: o.help }, `${o.name} `, input);
  }

  /* Verdicts on the outputs, the code with the findings' lines marked. */
  function judged(result) {
    const out = [];
    const side = (title, verdictList, output) => {
      if (!verdictList || !output) return;
      out.push(h("h4", null, title));
      out.push(h("ul", { class: "verdict-list" }, verdictList.map((v) => h("li", { class: v.passed ? "pass" : "fail" },
        h("b", null, v.passed ? "pass" : "FAIL"), " ", v.check,
        v.findings.length ? h("ul", null, v.findings.map((f) => h("li", null,
          `${f.path || "output"}${f.line ? ":" + f.line : ""} \u2014 ${f.message}`))) : null,
        (v.unparsed || []).map((u) => h("div", { class: "muted small" }, `not judged: ${u.path || "output"}: ${u.reason}`))))));
      if (output.code.length === 0) out.push(h("p", { class: "muted" }, "The output wrote no code."));
      for (const block of output.code) out.push(R.codeWithFindings(block, output.findings));
    };
    side(`On the output (${result.output ? result.output.source || "" : ""})`, result.verdicts.output, result.output);
    if (result.good_output) side(`On the known-good output (${result.good_output.source || ""})`, result.verdicts.good_output, result.good_output);
    if (result.catches === false) out.unshift(h("p", { class: "warn" }, "No check fails on this output: a task made of these checks could not catch its own failure."));
    if (result.good_passes === false) out.unshift(h("p", { class: "warn" }, "A check fails on the known-good output: it would fail every model."));
    if (result.duplicates && result.duplicates.length) {
      out.unshift(h("p", { class: "warn duplicate" }, "This call is a task already, cut at the same place and with the same checks: ",
        result.duplicates.map((name, i) => [i ? ", " : "", h("a", { href: "#/task/" + encodeURIComponent(name) }, name)]),
        ". Saving makes another only when forced."));
    }
    return h("div", null, out);
  }

  /* ---- tasks ------------------------------------------------------------------------------- */

  async function tasksPage() {
    setNav("tasks");
    current = { page: "tasks" };
    const data = await api("/api/tasks");
    if (!data.tasks.length) {
      return show(h("h1", null, "Tasks"), h("p", { class: "muted" },
        "No tasks yet. Open a conversation, find the answer where the model went wrong, and press \u201CMake a task\u201D."));
    }
    show(h("h1", null, "Tasks"), h("table", { class: "list tasks" },
      h("thead", null, h("tr", null, ["task", "checks", "model", "wire", "from", "created", "last run"].map((t) => h("th", null, t)))),
      h("tbody", null, data.tasks.map((t) => h("tr", { dataset: { task: t.name } },
        h("td", null, h("a", { href: "#/task/" + encodeURIComponent(t.name) }, t.name),
          t.note ? h("div", { class: "muted small" }, t.note) : null),
        h("td", null, t.checks.join(", ")),
        h("td", null, t.model || "\u2013"),
        h("td", null, t.wire || "\u2013"),
        h("td", null, t.origin_call ? h("span", { class: "mono small" }, t.origin_call) : "imported"),
        h("td", null, R.when(t.created_at)),
        h("td", { class: "last-run" }, lastRun(t.last_run)))))));
  }

  /* A task's latest run, a line per model and variant: pooling them would read 0/8 on one
   * and 8/8 on another as 8/16. */
  function lastRun(last) {
    if (!last) return "\u2013";
    return [
      last.cells.map((c) => h("div", { class: "cell-line" },
        h("span", { class: "muted" }, `${c.model} \u00B7 ${c.variant} `), h("b", null, `${c.passes}/${c.judged}`))),
      h("a", { class: "small", href: "#/run/" + encodeURIComponent(last.run) }, `run of ${R.when(last.started_at)}`),
    ];
  }

  async function taskPage(name) {
    setNav("tasks");
    current = { page: "task", id: name };
    const data = await api("/api/tasks/" + encodeURIComponent(name));
    const t = data.task;
    const messages = t.request.messages;
    const tail = h("div", { class: "transcript" });
    const showMessages = (all) => {
      const shown = all ? messages : messages.slice(-4);
      const results = {};
      tail.replaceChildren();
      R.append(tail, [
        shown.length < messages.length ? h("button", { type: "button", onclick: () => showMessages(true) },
          `Show all ${messages.length} messages (${messages.length - shown.length} earlier)`) : null,
        shown.map((m) => message(m, results))]);
    };
    showMessages(false);
    const p = t.provenance || {};
    const origin = p.call
      ? ["from call ", h("span", { class: "mono" }, p.call),
        p.conversation ? [" in ", h("a", { href: "#/c/" + encodeURIComponent(p.conversation) }, "its conversation")] : null]
      : "imported";
    const out = [
      h("p", { class: "crumbs" }, h("a", { href: "#/tasks" }, "Tasks"), " / ", t.name),
      h("h1", null, t.name),
      h("p", { class: "facts" }, `${t.request.wire || "\u2013"} \u00B7 model ${t.request.model || "\u2013"} \u00B7 `, origin,
        ` \u00B7 created ${R.when(t.created_at)}`),
      t.note ? h("p", { class: "note" }, t.note) : null,
      h("p", null, "Checks: ", t.checks.map((c) => h("code", { class: "spec" }, c))),
      data.error ? h("p", { class: "error" }, data.error) : null,
      h("h2", null, "The end of its transcript"), tail,
      h("h2", null, "Known-bad output"),
      message(t.output.message, {}, `output (${t.output.finish_reason || "no finish reason"})`),
    ];
    if (data.verdicts) {
      out.push(judged({ verdicts: data.verdicts, output: { ...data.output, source: "known-bad" },
        good_output: data.good_output ? { ...data.good_output, source: "known-good" } : null,
        catches: data.catches, good_passes: data.good_passes }));
    }
    if (t.good_output) {
      out.push(h("h2", null, "Known-good output"), message(t.good_output.message, {}, `good output (${t.good_output.source || ""})`));
    }
    show(...out);
  }

  /* ---- runs and reports --------------------------------------------------------------------- */

  async function runsPage() {
    setNav("runs");
    current = { page: "runs" };
    const data = await api("/api/runs");
    if (!data.runs.length) {
      return show(h("h1", null, "Runs"), h("p", { class: "muted" }, "No runs yet. Replay your tasks: ",
        h("code", null, "redline replay --model MODEL"), "."));
    }
    show(h("h1", null, "Runs"), h("table", { class: "list runs" },
      h("thead", null, h("tr", null, ["run", "started", "status", "samples", "errors", "from cache", "models \u00D7 variants"].map((t) => h("th", null, t)))),
      h("tbody", null, data.runs.map((r) => h("tr", { dataset: { run: r.id } },
        h("td", null, h("a", { href: "#/run/" + encodeURIComponent(r.id), class: "mono" }, r.id)),
        h("td", null, R.when(r.started_at)),
        h("td", null, r.status),
        h("td", { class: "num" }, R.number(r.results)),
        h("td", { class: "num" }, R.number(r.errors)),
        h("td", { class: "num" }, R.number(r.from_cache)),
        h("td", null, `${r.models.join(", ")} \u00D7 ${r.variants.join(", ")} on ${r.tasks.length} task${r.tasks.length === 1 ? "" : "s"}`))))));
  }

  function interval(i) {
    return i ? `${R.percent(i[0])}\u2013${R.percent(i[1])}` : "\u2013";
  }

  async function runPage(id) {
    setNav("runs");
    current = { page: "run", id };
    const report = await api("/api/runs/" + encodeURIComponent(id) + "/report");
    const run = report.run;
    const summary = {};
    for (const s of report.summary) summary[s.model + "\u0000" + s.variant] = s;
    const variants = report.variants.map((v) => v.name);
    const grid = h("table", { class: "grid" },
      h("thead", null, h("tr", null, h("th", null, "model \\ variant"), variants.map((v) => h("th", null, v)))),
      h("tbody", null, report.models.map((m) => h("tr", null, h("th", null, m.name), variants.map((v) => {
        const s = summary[m.name + "\u0000" + v];
        if (!s) return h("td", null, "\u2013");
        return h("td", { class: "cell " + shade(s) },
          h("div", { class: "rate" }, R.percent(s.rate)),
          h("div", null, `${s.passes}/${s.samples} samples passed` + (s.no_attempts ? `, ${s.no_attempts} no attempt` : "") + (s.errors ? `, ${s.errors} errors` : "")),
          h("div", { class: "muted small" }, `95% interval ${interval(s.interval)} \u00B7 ${s.tasks} task${s.tasks === 1 ? "" : "s"}`),
          s.pass_k !== null && s.pass_k !== undefined
            ? h("div", { class: "muted small" }, `pass^${run.samples} (every time) ${R.percent(s.pass_k)}`) : null,
          (run.max_steps || 1) > 1 && s.steps_p50 !== null && s.steps_p50 !== undefined
            ? h("div", { class: "muted small" }, `steps: median ${s.steps_p50}` + (s.max_steps_hit ? `, ${s.max_steps_hit} at --max-steps ${run.max_steps}` : "")) : null);
      })))));
    const comparisons = report.comparisons.length
      ? h("ul", { class: "comparisons" }, report.comparisons.map((c) => h("li", null,
        h("b", null, `${c.a} vs ${c.b}`), ` (${c.kind === "variant" ? "model" : "variant"} ${c.within}): `, c.verdict)))
      : h("p", { class: "muted" }, "One model and one variant: nothing to compare.");
    const noAttempts = report.summary.reduce((n, s) => n + (s.no_attempts || 0), 0);
    const counted = report.summary.reduce((n, s) => n + s.samples, 0);
    const noAttemptLine = noAttempts
      ? h("p", { class: "no-attempts" }, h("b", null, `${noAttempts} of ${counted} sample${counted === 1 ? "" : "s"} never wrote code the checks could judge: counted as no attempt, not passed.`))
      : null;
    const byTask = {};
    for (const s of report.samples) (byTask[s.task] = byTask[s.task] || []).push(s);
    const samples = Object.entries(byTask).map(([task, list]) => h("div", { class: "task-samples" },
      h("h3", null, task), list.map(sample)));
    show(
      h("p", { class: "crumbs" }, h("a", { href: "#/runs" }, "Runs"), " / ", run.id),
      h("h1", null, `Run ${run.id}`),
      h("p", { class: "facts" }, `${run.status} \u00B7 started ${R.when(run.started_at)} \u00B7 ${run.samples} sample${run.samples === 1 ? "" : "s"} per task, model and variant` +
        ((run.max_steps || 1) > 1 ? ` \u00B7 up to ${run.max_steps} steps per sample` : "") +
        (run.evaluation ? ` \u00B7 judged again by redline recheck (evaluation ${run.evaluation})` : "")),
      h("h2", null, "Pass rates"), grid, noAttemptLine, chart(report),
      h("h2", null, "Comparisons"), comparisons,
      report.detectable ? h("p", { class: "muted detectable" }, report.detectable.line) : null,
      report.errors.length ? [h("h2", null, "Errors (not counted as failures)"),
        h("ul", null, report.errors.slice(0, 20).map((e) => h("li", null, `${e.task} \u00B7 ${e.model} \u00B7 ${e.variant} \u00B7 sample ${e.sample}: ${e.error}`)))] : null,
      h("h2", null, "Samples"), samples);
  }

  function shade(s) {
    if (!s.samples) return "";
    return s.passes === s.samples ? "all" : s.passes === 0 ? "none" : "some";
  }

  /* A bar per model × variant, its 95% interval as an error bar, axis 0–100%. */
  function chart(report) {
    const NS = "http://www.w3.org/2000/svg";
    const rows = report.summary;
    const labelW = 240, plotW = 480, valueW = 60, rowH = 28, top = 8, axisH = 24;
    const height = top + rowH * rows.length + axisH;
    const width = labelW + plotW + valueW;
    const bottom = top + rowH * rows.length;
    const svg = document.createElementNS(NS, "svg");
    const el = (tag, attrs, text) => {
      const node = document.createElementNS(NS, tag);
      for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
      if (text !== undefined) node.textContent = text;
      return node;
    };
    svg.setAttribute("class", "chart");
    svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    svg.setAttribute("width", width);
    svg.setAttribute("height", height);
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", "Pass rate per model and variant with 95% intervals");
    const x = (rate) => labelW + plotW * rate;
    for (const tick of [0, 0.25, 0.5, 0.75, 1]) {
      svg.appendChild(el("line", { class: "grid-line", x1: x(tick), y1: top, x2: x(tick), y2: bottom }));
      svg.appendChild(el("text", { x: x(tick), y: bottom + 16, "text-anchor": "middle" }, `${tick * 100}%`));
    }
    rows.forEach((row, i) => {
      const y = top + rowH * i;
      const mid = y + rowH / 2;
      const label = `${row.model} \u00B7 ${row.variant}`;
      svg.appendChild(el("text", { x: labelW - 8, y: mid, "text-anchor": "end", "dominant-baseline": "middle" },
        label.length > 34 ? label.slice(0, 33) + "\u2026" : label));
      if (row.rate === null || row.rate === undefined) {
        svg.appendChild(el("text", { x: labelW + 4, y: mid, "dominant-baseline": "middle" }, "no judged samples"));
        return;
      }
      const bar = el("rect", { class: "bar", x: labelW, y: y + 6, width: plotW * row.rate, height: rowH - 12 });
      bar.appendChild(el("title", {}, `${label}: ${R.percent(row.rate)}, 95% interval ${interval(row.interval)}`));
      svg.appendChild(bar);
      if (row.interval) {
        const [lo, hi] = row.interval;
        svg.appendChild(el("line", { class: "ci", x1: x(lo), y1: mid, x2: x(hi), y2: mid }));
        for (const end of [lo, hi]) svg.appendChild(el("line", { class: "ci", x1: x(end), y1: mid - 5, x2: x(end), y2: mid + 5 }));
      }
      svg.appendChild(el("text", { x: labelW + plotW + 8, y: mid, "dominant-baseline": "middle" }, R.percent(row.rate)));
    });
    return h("figure", { class: "chart-box" }, svg,
      h("figcaption", { class: "muted small" }, "Pass rate per model and variant (mean of the per-task rates) with its 95% interval: over tasks, or over the samples of a side's one task."));
  }

  const OUTCOMES = { pass: ["passed", "pass"], fail: ["failed", "fail"], no_attempt: ["no-attempt", "no attempt"], error: ["error", "error"] };
  const SOURCES = { transcript: "from the transcript", workspace: "from the workspace", unavailable: "not available", invalid: "arguments not JSON" };

  function callLine(c) {
    const asked = `${c.tool} ${c.arguments || ""}`.trim();
    if (c.source === null || c.source === undefined) return `${asked} (not answered: the replay stops here)`;
    const how = [c.note, `${R.number(c.size || 0)} bytes`].filter(Boolean).join(", ");
    return `${asked}: ${SOURCES[c.source] || c.source} (${how})`;
  }

  function sample(s) {
    const known = s.outcome || (s.error !== null && s.error !== undefined ? "error" : s.passed ? "pass" : "fail");
    const [cls, word] = OUTCOMES[known] || [known, known];
    const steps = s.steps || [];
    const box = h("details", { class: "sample " + cls },
      h("summary", null, `${s.model} \u00B7 ${s.variant} \u00B7 sample ${s.sample}: `, h("b", null, word),
        s.findings.length ? `, ${s.findings.length} finding${s.findings.length === 1 ? "" : "s"}` : "",
        steps.length > 1 ? `, ${steps.length} steps` : "",
        s.from_cache ? h("span", { class: "muted small" }, " (from the cache)") : null));
    if (s.error) box.appendChild(h("pre", { class: "plain" }, s.error));
    if (steps.length) {
      box.appendChild(h("ol", { class: "steps" }, steps.map((step) => h("li", null,
        (step.calls || []).length ? step.calls.map(callLine).join("; ") : "answered without a tool call"))));
    }
    if (s.reason) box.appendChild(h("p", { class: "muted" }, `No attempt: ${s.reason}.`));
    if (s.diverged) box.appendChild(h("p", { class: "muted" }, `Went its own way at step ${s.diverged.step}: ${s.diverged.why}.`));
    for (const f of s.findings) {
      box.appendChild(h("p", null, h("b", null, f.check), ` ${f.path || ""}${f.line ? ":" + f.line : ""} ${f.message}`));
    }
    for (const block of s.code) box.appendChild(R.codeWithFindings(block, s.findings));
    if (s.text) box.appendChild(h("div", { class: "sample-text" }, h("p", { class: "muted" }, "The answer's text:"), R.markdown(s.text)));
    return box;
  }

  /* ---- live -------------------------------------------------------------------------------- */

  function live() {
    const dot = document.getElementById("live");
    let known = null;
    const source = new EventSource("/api/events");
    source.addEventListener("open", () => dot.classList.replace("off", "on"));
    source.addEventListener("error", () => dot.classList.replace("on", "off"));
    source.addEventListener("calls", (event) => {
      const state = JSON.parse(event.data);
      dot.classList.replace("off", "on");
      dot.title = `${R.number(state.calls)} calls recorded; the newest ${R.when(state.last_at)}`;
      if (known !== null && known.calls !== state.calls) refresh();
      known = state;
    });
  }

  function refresh() {
    if (current.page === "conversations" && !current.query.get("offset")) {
      conversationsPage(current.query, true).catch(() => {});
    } else if (current.page === "conversation") {
      if (document.querySelector(".flag")) {
        /* A task being made: do not redraw under it; say there is more. */
        if (!document.querySelector(".more-calls")) {
          app.appendChild(h("p", { class: "more-calls" }, "New calls were recorded. ",
            h("button", { type: "button", onclick: () => conversationPage(current.id, true) }, "Show them")));
        }
      } else {
        conversationPage(current.id, true).catch(() => {});
      }
    }
  }

  window.addEventListener("hashchange", route);
  route();
  live();
})();
