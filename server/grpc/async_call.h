// The state machine of one asynchronous unary gRPC call, shared by every method of every service
// the gRPC front end serves. A fixed set of polling threads, one per completion queue, drives all
// calls: there is no thread per call.
//
//   posted --(a call arrives: ok)--> post a replacement, run the handler, Finish --> finished
//   posted --(server shutting down: !ok)--> deleted
//   finished --(Finish's tag, ok or not)--> deleted
#pragma once

#include <atomic>
#include <functional>

#include "grpcpp/completion_queue.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/async_unary_call.h"

namespace savant::server {

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

  UnaryMethod(RequestFn request, HandleFn handle, Executor executor, const std::atomic<bool>* shutting_down)
      : request_(std::move(request)),
        handle_(std::move(handle)),
        executor_(std::move(executor)),
        shutting_down_(shutting_down) {}

  void Post(grpc::ServerCompletionQueue* cq) const override;

 private:
  class Call;

  RequestFn request_;
  HandleFn handle_;
  Executor executor_;
  const std::atomic<bool>* shutting_down_;
};

template <typename Request, typename Response>
class UnaryMethod<Request, Response>::Call final : public AsyncCall {
 public:
  Call(const UnaryMethod* method, grpc::ServerCompletionQueue* cq) : method_(method), cq_(cq) {}

  void Proceed(bool ok) override {
    if (finishing_ || !ok) {
      delete this;
      return;
    }
    finishing_ = true;
    // Keep a request posted for the next call before this one runs, also while the server drains
    // (calls it already received are then served, not cancelled). This runs before Finish, so
    // before Server::Shutdown() returns and the completion queues are shut down.
    if (!method_->shutting_down_->load(std::memory_order_acquire)) method_->Post(cq_);
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
};

template <typename Request, typename Response>
void UnaryMethod<Request, Response>::Post(grpc::ServerCompletionQueue* cq) const {
  (new Call(this, cq))->Start();
}

}  // namespace savant::server
