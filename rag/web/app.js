const log = document.getElementById("log"), doc = document.getElementById("doc");
const history = [];
const headers = () => {
  const h = {"Content-Type": "application/json"}, key = localStorage.getItem("rag-key");
  if (key) h.Authorization = "Bearer " + key;
  return h;
};
async function call(url, init) {
  let r = await fetch(url, {...init, headers: headers()});
  if (r.status === 401) {
    localStorage.setItem("rag-key", prompt("API key for this server:") || "");
    r = await fetch(url, {...init, headers: headers()});
  }
  return r;
}
function el(tag, cls, text) { const e = document.createElement(tag); if (cls) e.className = cls; if (text != null) e.textContent = text; return e; }
function highlight(id) {
  document.querySelectorAll(".s.hl").forEach(s => s.classList.remove("hl"));
  const s = document.getElementById(id);
  if (s) { s.classList.add("hl"); s.scrollIntoView({block: "center", behavior: "smooth"}); }
}
function citeButton(id) {
  const b = el("button", "cite", id); b.type = "button"; b.dataset.id = id;
  b.addEventListener("click", () => highlight(id));
  return b;
}
function render(node, text) {  // text stays text: markers become buttons, nothing becomes HTML
  node.replaceChildren();
  for (const part of text.split(/(\[S\d+\])/)) {
    const m = part.match(/^\[(S\d+)\]$/);
    node.append(m ? citeButton(m[1]) : document.createTextNode(part));
  }
}
async function loadArticle() {
  const r = await call("/v1/sentences", {method: "GET"});
  if (!r.ok) { doc.textContent = "The assistant is still loading…"; setTimeout(loadArticle, 1000); return; }
  const {sentences} = await r.json();
  doc.replaceChildren();
  let key = null, p = null, name = null, page = null, section = null;
  for (const s of sentences) {
    if (s.doc !== name) {  // each document under its own name (and title), pages and sections marked
      name = s.doc; page = section = null;
      doc.append(el("h2", "docname", s.title ? `${s.title} (${s.doc})` : s.doc));
    }
    if (s.page && s.page !== page) { page = s.page; doc.append(el("div", "page", `${s.doc} p. ${s.page}`)); key = null; }
    if (s.section && s.section !== section) { section = s.section; doc.append(el("h3", "section", s.section)); key = null; }
    if (s.doc + "/" + s.paragraph !== key) { key = s.doc + "/" + s.paragraph; p = el("p"); doc.append(p); }
    const span = el("span", "s"); span.id = s.id;
    span.append(el("sup", null, s.id), document.createTextNode(s.text + " "));
    p.append(span);
  }
  linked();
}
async function ask(question) {
  log.append(el("div", "q", question));
  const answer = el("div", "a pending"); log.append(answer);
  log.scrollTop = log.scrollHeight;
  let text = "", final = null;
  try {
    const r = await call("/v1/chat/completions", {method: "POST", body: JSON.stringify({
      model: "rag", stream: true, messages: [...history.flatMap(([q, a]) => [{role: "user", content: q},
        {role: "assistant", content: a}]), {role: "user", content: question}]})});
    if (!r.ok) throw new Error((await r.json()).error?.message || r.statusText);
    const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const {value, done} = await reader.read();
      if (done) break;
      buffer += value;
      const events = buffer.split("\n\n"); buffer = events.pop();
      for (const event of events) {
        const data = event.replace(/^data: /, "");
        if (data === "[DONE]") continue;
        const chunk = JSON.parse(data);
        if (chunk.error) throw new Error(chunk.error.message);
        const choice = chunk.choices[0];
        if (choice.delta.content) { text += choice.delta.content; render(answer, text); }
        if (choice.finish_reason) final = chunk;
      }
    }
  } catch (e) {
    answer.classList.remove("pending"); answer.classList.add("err"); answer.textContent = "Error: " + e.message; return;
  }
  answer.classList.remove("pending");
  if (final?.abstained) answer.classList.add("abstained");
  const list = el("ol", "sources");
  for (const c of final?.citations || []) {
    const where = c.doc + (c.page ? ` p. ${c.page}` : "") + (c.section ? ` § ${c.section}` : "");
    const li = el("li"); li.append(citeButton(c.id), document.createTextNode(" " + c.text + " "), el("span", "where", where));
    list.append(li);
  }
  if (list.children.length) answer.after(list);
  history.push([question, text]);
  log.scrollTop = log.scrollHeight;
}
function linked() {  // /#S3 or /?cite=S3 (the links in API citations) open at that sentence
  const id = new URLSearchParams(location.search).get("cite") || location.hash.slice(1);
  if (/^S\d+$/.test(id)) highlight(id);
}
window.addEventListener("hashchange", linked);
document.getElementById("ask").addEventListener("submit", e => {
  e.preventDefault();
  const input = document.getElementById("question"), q = input.value.trim();
  if (q) { input.value = ""; ask(q); }
});
loadArticle();
