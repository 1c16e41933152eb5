// The state machine of one asynchronous unary gRPC call, shared by every method of every service
// the gRPC front end serves. A fixed set of polling threads, one per completion queue, drives all
// calls: there is no thread per call.
//
//   posted --(a call arrives: ok)--> post a replacement, run the handler, Finish --> finished
//   posted --(a call arrives while draining)--> post a replacement, Finish UNAVAILABLE --> finished
//   posted --(server shutting down: !ok)--> deleted
//   finished --(Finish's tag, ok or not)--> deleted
//
// Draining (DrainState) is how the front end shuts down without leaving a call behind: gRPC's own
// Server::Shutdown waits for calls that arrived after it began but were never matched to a
// request, until their clients give up. So the front end first drains (new calls are answered
// UNAVAILABLE at once, calls already running finish and are counted down), and only then shuts
// gRPC down with an immediate deadline.
#pragma once

#include <atomic>
#include <functional>

#include "grpcpp/completion_queue.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/async_unary_call.h"

namespace savant::server {

// Shared by every method of one front end. Thread-safe.
struct DrainState {
  // Set once, when the front end starts to drain.
  std::atomic<bool> draining{false};
  // Calls whose handler was started and whose Finish has not completed yet.
  std::atomic<int> running{0};
  // Once the server is shut down: no new request may be posted.
  std::atomic<bool> shutting_down{false};
};

// A completion-queue tag. Confined to the polling thread that dequeued it (and, for slow methods,
// the executor it hands itself to).
class AsyncCall {
 public:
  virtual ~AsyncCall() = default;
  // Called with the result of the operation this tag stood for.
  virtual void Proceed(bool ok) = 0;
};

// One method of one service, and what to do with its calls. Outlives every call it posts.
class UnaryMethodBase {
 public:
  virtual ~UnaryMethodBase() = default;
  // Posts the first request for a call of this method on `cq`.
  virtual void Post(grpc::ServerCompletionQueue* cq) const = 0;
};

template <typename Request, typename Response>
class UnaryMethod final : public UnaryMethodBase {
 public:
  // Asks gRPC for the next call: binds AsyncService::RequestXxx.
  using RequestFn = std::function<void(grpc::ServerContext*, Request*, grpc::ServerAsyncResponseWriter<Response>*,
                                       grpc::ServerCompletionQueue*, void*)>;
  using HandleFn = std::function<grpc::Status(grpc::ServerContext&, const Request&, Response*)>;
  // Runs `work` elsewhere: for methods too slow for a polling thread (config reloads).
  using Executor = std::function<void(std::function<void()> work)>;

  UnaryMethod(RequestFn request, HandleFn handle, Executor executor, DrainState* drain)
      : request_(std::move(request)), handle_(std::move(handle)), executor_(std::move(executor)), drain_(drain) {}

  void Post(grpc::ServerCompletionQueue* cq) const override;

 private:
  class Call;

  RequestFn request_;
  HandleFn handle_;
  Executor executor_;
  DrainState* drain_;
};

template <typename Request, typename Response>
class UnaryMethod<Request, Response>::Call final : public AsyncCall {
 public:
  Call(const UnaryMethod* method, grpc::ServerCompletionQueue* cq) : method_(method), cq_(cq) {}

  void Proceed(bool ok) override {
    if (finishing_ || !ok) {
      if (counted_) method_->drain_->running.fetch_sub(1);
      delete this;
      return;
    }
    finishing_ = true;
    DrainState& drain = *method_->drain_;
    // Keep a request posted for the next call before this one runs, also while the server drains
    // (so that calls arriving meanwhile are answered, not left unmatched). This runs before
    // Finish, so before the front end shuts gRPC down and the completion queues go away.
    if (!drain.shutting_down.load()) method_->Post(cq_);
    // Counted before `draining` is read (both sequentially consistent): either the front end sees
    // this call running and waits for it, or this call sees the drain and is refused.
    drain.running.fetch_add(1);
    counted_ = true;
    if (drain.draining.load()) {
      counted_ = false;
      drain.running.fetch_sub(1);
      responder_.FinishWithError(grpc::Status(grpc::StatusCode::UNAVAILABLE, "the server is shutting down"), this);
      return;
    }
    if (method_->executor_) {
      method_->executor_([this] { Run(); });
    } else {
      Run();
    }
  }

  void Start() { method_->request_(&context_, &request_, &responder_, cq_, this); }

 private:
  void Run() {
    grpc::Status status = method_->handle_(context_, request_, &response_);
    if (status.ok()) {
      responder_.Finish(response_, status, this);
    } else {
      responder_.FinishWithError(status, this);
    }
  }

  const UnaryMethod* method_;
  grpc::ServerCompletionQueue* cq_;
  grpc::ServerContext context_;
  Request request_;
  Response response_;
  grpc::ServerAsyncResponseWriter<Response> responder_{&context_};
  bool finishing_ = false;
  bool counted_ = false;  // included in DrainState::running until the Finish tag comes back
};

template <typename Request, typename Response>
void UnaryMethod<Request, Response>::Post(grpc::ServerCompletionQueue* cq) const {
  (new Call(this, cq))->Start();
}

}  // namespace savant::server
