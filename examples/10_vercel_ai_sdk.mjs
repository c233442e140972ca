// The Vercel AI SDK (`ai` with `@ai-sdk/openai`) against a running `claude-openai serve`.
//
// `createOpenAI({ baseURL, apiKey })` makes the provider. `provider.chat(model)` speaks Chat
// Completions; `provider(model)` (the default) speaks the Responses API. Both work: this script
// uses both, for a generateText, a streamText, and a tool loop that the SDK runs itself.
//
// Run it (Node.js 22+, start the server first, in another terminal):
//
//     claude-openai serve --host 127.0.0.1 --port 8000
//     npm install ai@7 @ai-sdk/openai@4 zod@4
//     node 10_vercel_ai_sdk.mjs
//     # or elsewhere: OPENAI_BASE_URL=http://127.0.0.1:9000/v1 node 10_vercel_ai_sdk.mjs

import { createOpenAI } from "@ai-sdk/openai";
import { generateText, isStepCount, streamText, tool } from "ai";
import { z } from "zod";

const provider = createOpenAI({
  baseURL: process.env.OPENAI_BASE_URL ?? "http://127.0.0.1:8000/v1",
  apiKey: "unused",
});

// Chat Completions
const chat = await generateText({
  model: provider.chat("sonnet"),
  system: "You are terse.",
  prompt: "Say hello in French.",
  maxRetries: 0,
});
console.log("chat:", chat.text);

const stream = streamText({
  model: provider.chat("sonnet"),
  prompt: "Count from one to five.",
  maxRetries: 0,
});
let streamed = "";
for await (const delta of stream.textStream) streamed += delta;
console.log("chat streamed:", streamed, `(${(await stream.usage).outputTokens} tokens)`);

// Tools: the SDK calls execute() and sends the result back, up to two steps.
const weather = tool({
  description: "Get the current weather in a city",
  inputSchema: z.object({ city: z.string() }),
  execute: async ({ city }) => `22C and sunny in ${city}`,
});
const agent = await generateText({
  model: provider.chat("sonnet"),
  tools: { get_weather: weather },
  stopWhen: isStepCount(2),
  prompt: "What is the weather in Paris?",
  maxRetries: 0,
});
for (const step of agent.steps) {
  for (const call of step.toolCalls) console.log("called", call.toolName, JSON.stringify(call.input));
}
console.log("tool answer:", agent.text);

// The Responses API: the provider's default
const responses = await generateText({
  model: provider("sonnet"),
  prompt: "Name a French cheese.",
  maxRetries: 0,
});
console.log("responses:", responses.text);

const responsesStream = streamText({
  model: provider("sonnet"),
  prompt: "Name a French wine.",
  maxRetries: 0,
});
let responsesStreamed = "";
for await (const delta of responsesStream.textStream) responsesStreamed += delta;
console.log("responses streamed:", responsesStreamed);
