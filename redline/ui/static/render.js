/* redline ui: building the page safely.
 *
 * Everything shown from a transcript, a task or a report is untrusted text (a model may well
 * write <script>). Nothing here builds HTML from strings: elements are created with
 * document.createElement and text goes in as text nodes, so markup in a message stays text.
 * Markdown is a small subset rendered straight to elements; code is highlighted by a small
 * tokenizer whose tokens become spans with textContent. Links keep only http(s) and mailto.
 */
"use strict";

const R = (() => {
  /* h("div", {class: "x", onclick: f}, "text", child, [more]) */
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    if (attrs) {
      for (const [key, value] of Object.entries(attrs)) {
        if (value === null || value === undefined || value === false) continue;
        if (key.startsWith("on") && typeof value === "function") {
          el.addEventListener(key.slice(2), value);
        } else if (key === "class") {
          el.className = value;
        } else if (key === "dataset") {
          Object.assign(el.dataset, value);
        } else if (key === "href") {
          el.setAttribute("href", safeHref(value));
        } else if (key === "value" || key === "checked" || key === "selected" || key === "open") {
          el[key] = value;
        } else {
          el.setAttribute(key, value === true ? "" : String(value));
        }
      }
    }
    append(el, children);
    return el;
  }

  function append(el, children) {
    for (const child of children) {
      if (child === null || child === undefined || child === false) continue;
      if (Array.isArray(child)) append(el, child);
      else if (child instanceof Node) el.appendChild(child);
      else el.appendChild(document.createTextNode(String(child)));
    }
    return el;
  }

  function safeHref(url) {
    const text = String(url);
    if (text.startsWith("#") || text.startsWith("/")) return text.startsWith("//") ? "#" : text;
    try {
      const parsed = new URL(text);
      if (["http:", "https:", "mailto:"].includes(parsed.protocol)) return parsed.href;
    } catch (e) {
      /* not a URL */
    }
    return "#";
  }

  /* ---- syntax highlighting ------------------------------------------------------------ */

  const PY_KEYWORDS =
    "False None True and as assert async await break class continue def del elif else except " +
    "finally for from global if import in is lambda nonlocal not or pass raise return try " +
    "while with yield match case";
  const JS_KEYWORDS =
    "break case catch class const continue debugger default delete do else export extends " +
    "false finally for function if import in instanceof let new null return super switch this " +
    "throw true try typeof undefined var void while with yield async await of interface type";
  const SH_KEYWORDS = "if then else elif fi for while do done case esac in function return export local";

  function words(list) {
    return new RegExp("\\b(?:" + list.split(" ").join("|") + ")\\b", "y");
  }

  const LANGUAGES = {
    python: [
      ["comment", /#[^\n]*/y],
      ["string", /[rRbBuUfF]{0,2}("""[\s\S]*?(?:"""|$)|'''[\s\S]*?(?:'''|$))/y],
      ["string", /[rRbBuUfF]{0,2}("(?:\\.|[^"\\\n])*"?|'(?:\\.|[^'\\\n])*'?)/y],
      ["decorator", /@[\w.]+/y],
      ["keyword", words(PY_KEYWORDS)],
      ["number", /\b(?:0[xob][\da-f_]+|\d[\d_]*(?:\.\d*)?(?:e[+-]?\d+)?j?)\b/iy],
      ["name", /\b[A-Za-z_]\w*(?=\s*\()/y],
    ],
    javascript: [
      ["comment", /\/\/[^\n]*|\/\*[\s\S]*?(?:\*\/|$)/y],
      ["string", /"(?:\\.|[^"\\\n])*"?|'(?:\\.|[^'\\\n])*'?|`(?:\\.|[^`\\])*`?/y],
      ["keyword", words(JS_KEYWORDS)],
      ["number", /\b(?:0[xob][\da-f_]+|\d[\d_]*(?:\.\d*)?(?:e[+-]?\d+)?n?)\b/iy],
      ["name", /\b[A-Za-z_$][\w$]*(?=\s*\()/y],
    ],
    json: [
      ["key", /"(?:\\.|[^"\\\n])*"(?=\s*:)/y],
      ["string", /"(?:\\.|[^"\\\n])*"?/y],
      ["keyword", /\b(?:true|false|null)\b/y],
      ["number", /-?\b\d+(?:\.\d+)?(?:e[+-]?\d+)?\b/iy],
    ],
    bash: [
      ["comment", /(?:^|(?<=\s))#[^\n]*/y],
      ["string", /"(?:\\.|[^"\\])*"?|'[^']*'?/y],
      ["keyword", words(SH_KEYWORDS)],
      ["variable", /\$\{?[\w@#?*!-]+\}?/y],
    ],
  };
  const ALIASES = {
    py: "python", python3: "python", js: "javascript", jsx: "javascript", ts: "javascript",
    tsx: "javascript", typescript: "javascript", mjs: "javascript", sh: "bash", shell: "bash",
    zsh: "bash", console: "bash", patch: "diff", jsonl: "json",
  };
  const EXTENSIONS = {
    py: "python", js: "javascript", mjs: "javascript", jsx: "javascript", ts: "javascript",
    tsx: "javascript", json: "json", sh: "bash", bash: "bash", diff: "diff", patch: "diff",
  };

  function language(lang, path) {
    let name = (lang || "").toLowerCase();
    name = ALIASES[name] || name;
    if (LANGUAGES[name] || name === "diff") return name;
    const ext = (path || "").split(".").pop().toLowerCase();
    return EXTENSIONS[ext] || null;
  }

  /* Tokens [{cls, text}] of `code` in `lang` (cls null: plain). */
  function tokens(code, lang) {
    const name = language(lang);
    if (name === "diff") {
      return code.split(/(?<=\n)/).map((line) => ({
        cls: line.startsWith("+") ? "add" : line.startsWith("-") ? "del" :
          line.startsWith("@@") ? "hunk" : null,
        text: line,
      }));
    }
    const rules = LANGUAGES[name];
    if (!rules) return [{ cls: null, text: code }];
    const out = [];
    let plain = "";
    let i = 0;
    while (i < code.length) {
      let matched = null;
      for (const [cls, re] of rules) {
        re.lastIndex = i;
        const m = re.exec(code);
        if (m && m[0].length > 0) {
          matched = { cls, text: m[0] };
          break;
        }
      }
      if (matched) {
        if (plain) out.push({ cls: null, text: plain });
        plain = "";
        out.push(matched);
        i += matched.text.length;
      } else {
        /* Whole words at once, so a keyword is never found inside an identifier. */
        const word = /[A-Za-z_$][\w$]*|\s+|./y;
        word.lastIndex = i;
        const m = word.exec(code);
        plain += m[0];
        i += m[0].length;
      }
    }
    if (plain) out.push({ cls: null, text: plain });
    return out;
  }

  /* The tokens of `code`, split into lines: [[{cls, text}]]. */
  function lines(code, lang) {
    const out = [[]];
    for (const t of tokens(code, lang)) {
      const pieces = t.text.split("\n");
      pieces.forEach((piece, n) => {
        if (n > 0) out.push([]);
        if (piece) out[out.length - 1].push({ cls: t.cls, text: piece });
      });
    }
    return out;
  }

  function lineSpans(parts) {
    return parts.map((t) => (t.cls ? h("span", { class: "tok-" + t.cls }, t.text) : t.text));
  }

  /* A code block, highlighted. */
  function code(text, lang) {
    const rows = lines(text.replace(/\n$/, ""), lang);
    const pre = h("pre", { class: "code" });
    rows.forEach((parts, n) => {
      if (n > 0) pre.appendChild(document.createTextNode("\n"));
      append(pre, lineSpans(parts));
    });
    return pre;
  }

  /* One file of an output's code, numbered, the lines findings point at marked and the
   * findings said under them. block: {path, language, code, first_line}; findings: [{check,
   * path, line, message}] (those of other files or without a line are left out). */
  function codeWithFindings(block, findings) {
    const first = block.first_line || 1;
    const rows = lines(String(block.code).replace(/\n$/, ""), block.language || language(null, block.path));
    const hits = {};
    for (const f of findings || []) {
      if (f.line === null || f.line === undefined) continue;
      if ((f.path || null) !== (block.path || null)) continue;
      (hits[f.line] = hits[f.line] || []).push(f);
    }
    const lang = language(block.language, block.path) || "text";
    const pre = h("pre", { class: "code numbered" });
    rows.forEach((parts, n) => {
      const number = first + n;
      const found = hits[number];
      pre.appendChild(
        h("span", { class: found ? "line hit" : "line", dataset: { line: number } },
          h("span", { class: "ln" }, String(number)), lineSpans(parts))
      );
      for (const f of found || []) {
        pre.appendChild(h("span", { class: "finding-note" }, `\u25B2 ${f.check}: ${f.message}`));
      }
    });
    const caption = `${block.path || "(no path)"} \u00B7 ${lang}` +
      (block.kind && block.kind !== "block" ? ` \u00B7 ${block.kind}` : "");
    return h("figure", { class: "file" }, h("figcaption", null, caption), pre);
  }

  /* ---- Markdown (a small subset) -------------------------------------------------------- */

  function inline(text) {
    const out = [];
    const re = /(`+)([\s\S]*?[^`])\1(?!`)|\*\*([^*]+)\*\*|__([^_]+)__|\*([^*\s][^*]*)\*|(?<![\w])_([^_\s][^_]*)_(?![\w])|\[([^\]]+)\]\(([^)\s]+)\)|(https?:\/\/[^\s<>()]+[^\s<>().,;:!?'"])/g;
    let last = 0;
    let m;
    while ((m = re.exec(text)) !== null) {
      if (m.index > last) out.push(text.slice(last, m.index));
      if (m[2] !== undefined) out.push(h("code", null, m[2]));
      else if (m[3] !== undefined || m[4] !== undefined) out.push(h("strong", null, m[3] || m[4]));
      else if (m[5] !== undefined || m[6] !== undefined) out.push(h("em", null, m[5] || m[6]));
      else if (m[7] !== undefined) out.push(link(m[7], m[8]));
      else if (m[9] !== undefined) out.push(link(m[9], m[9]));
      last = re.lastIndex;
    }
    if (last < text.length) out.push(text.slice(last));
    return out;
  }

  function link(label, url) {
    const href = safeHref(url);
    if (href === "#") return label + " (" + url + ")";
    return h("a", { href, rel: "noopener noreferrer nofollow", target: "_blank" }, label);
  }

  /* Markdown text to a <div class="md">. */
  function markdown(text) {
    const root = h("div", { class: "md" });
    const src = String(text).replace(/\r\n?/g, "\n").split("\n");
    let i = 0;
    let para = [];
    const flush = () => {
      if (para.length) root.appendChild(h("p", null, inline(para.join("\n"))));
      para = [];
    };
    while (i < src.length) {
      const line = src[i];
      const fence = line.match(/^\s{0,3}(`{3,}|~{3,})\s*([\w+#.-]*)/);
      if (fence) {
        flush();
        const body = [];
        i += 1;
        while (i < src.length && !src[i].trimStart().startsWith(fence[1])) body.push(src[i++]);
        i += 1;
        root.appendChild(code(body.join("\n"), fence[2]));
        continue;
      }
      const heading = line.match(/^(#{1,6})\s+(.*)$/);
      if (heading) {
        flush();
        root.appendChild(h("h" + Math.min(heading[1].length + 2, 6), null, inline(heading[2])));
        i += 1;
        continue;
      }
      if (/^\s*([-*_])(\s*\1){2,}\s*$/.test(line)) {
        flush();
        root.appendChild(h("hr"));
        i += 1;
        continue;
      }
      const item = line.match(/^\s*([-*+]|\d+[.)])\s+(.*)$/);
      if (item) {
        flush();
        const ordered = /\d/.test(item[1]);
        const list = h(ordered ? "ol" : "ul");
        while (i < src.length) {
          const m = src[i].match(/^\s*([-*+]|\d+[.)])\s+(.*)$/);
          if (m) list.appendChild(h("li", null, inline(m[2])));
          else if (/^\s{2,}\S/.test(src[i]) && list.lastChild) append(list.lastChild, ["\n", inline(src[i].trim())]);
          else break;
          i += 1;
        }
        root.appendChild(list);
        continue;
      }
      if (/^\s*>/.test(line)) {
        flush();
        const quoted = [];
        while (i < src.length && /^\s*>/.test(src[i])) quoted.push(src[i++].replace(/^\s*>\s?/, ""));
        root.appendChild(h("blockquote", null, markdown(quoted.join("\n"))));
        continue;
      }
      if (!line.trim()) {
        flush();
        i += 1;
        continue;
      }
      para.push(line);
      i += 1;
    }
    flush();
    return root;
  }

  /* ---- small formatting ------------------------------------------------------------------ */

  function number(n) {
    return n === null || n === undefined ? "\u2013" : Number(n).toLocaleString("en-US");
  }

  function ms(value) {
    if (value === null || value === undefined) return "\u2013";
    return value >= 1000 ? (value / 1000).toFixed(2) + " s" : Math.round(value) + " ms";
  }

  function when(iso) {
    if (!iso) return "\u2013";
    const d = new Date(iso);
    return d.toISOString().replace("T", " ").slice(0, 16) + " UTC";
  }

  function percent(rate) {
    return rate === null || rate === undefined ? "\u2013" : Math.round(rate * 100) + "%";
  }

  return { h, append, safeHref, tokens, lines, code, codeWithFindings, markdown, inline, language,
    number, ms, when, percent };
})();
