// The official `openai` npm package against a running `claude-openai serve`.
//
// A plain Chat Completions call, a streaming one (with the usage chunk), and one Responses API
// call. The API key is not checked by the server.
//
// Run it (Node.js 22+, start the server first, in another terminal):
//
//     claude-openai serve --host 127.0.0.1 --port 8000
//     npm install openai@7
//     node 09_openai_node.mjs
//     # or elsewhere: OPENAI_BASE_URL=http://127.0.0.1:9000/v1 node 09_openai_node.mjs

import OpenAI from "openai";

const baseURL = process.env.OPENAI_BASE_URL ?? "http://127.0.0.1:8000/v1";
const client = new OpenAI({ baseURL, apiKey: "unused", maxRetries: 0 });

const completion = await client.chat.completions.create({
  model: "sonnet",
  messages: [
    { role: "system", content: "You are terse." },
    { role: "user", content: "Say hello in French." },
  ],
});
console.log("answer:", completion.choices[0].message.content);

const stream = await client.chat.completions.create({
  model: "sonnet",
  messages: [{ role: "user", content: "Count from one to five." }],
  stream: true,
  stream_options: { include_usage: true },
});
let streamed = "";
let usage = null;
for await (const chunk of stream) {
  streamed += chunk.choices[0]?.delta?.content ?? "";
  usage = chunk.usage ?? usage;
}
console.log("streamed:", streamed);
console.log("usage:", usage.prompt_tokens, "in,", usage.completion_tokens, "out");

const response = await client.responses.create({
  model: "sonnet",
  input: "Name a French cheese.",
});
console.log("responses:", response.output_text);
