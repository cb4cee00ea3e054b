#include "parallel.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

#include <unistd.h>

namespace ffaccel::cpu {
namespace {

struct Job {
    const std::function<void(int, int)>* fn;
    int n, chunks;
    std::atomic<int> next{0};
    int done = 0;    // chunks finished, guarded by Pool::m_
    int active = 0;  // workers holding a pointer to this job, guarded by Pool::m_
};

class Pool {
public:
    explicit Pool(int threads) : pid_(getpid()) {
        for (int i = 1; i < threads; ++i) workers_.emplace_back([this] { loop(); });
    }

    // Leaked on purpose (see pool()): joining at interpreter exit races with Python's
    // own teardown, and the OS reclaims the threads.
    int size() const { return static_cast<int>(workers_.size()) + 1; }
    pid_t pid() const { return pid_; }

    bool try_run(int n, const std::function<void(int, int)>& fn) {
        std::unique_lock<std::mutex> job_lock(job_mutex_, std::try_to_lock);
        if (!job_lock.owns_lock()) return false;
        Job job;
        job.fn = &fn;
        job.n = n;
        job.chunks = std::min(n, size() * 4);
        {
            std::lock_guard<std::mutex> lk(m_);
            job_ = &job;
            ++generation_;
        }
        cv_.notify_all();
        work(job);
        std::unique_lock<std::mutex> lk(m_);
        // The job lives on this stack frame: wait until no worker still holds it.
        done_cv_.wait(lk, [&] { return job.done == job.chunks && job.active == 0; });
        job_ = nullptr;
        return true;
    }

private:
    void work(Job& job) {
        int finished = 0;
        for (;;) {
            const int i = job.next.fetch_add(1);
            if (i >= job.chunks) break;
            const int b = static_cast<int>(static_cast<long long>(job.n) * i / job.chunks);
            const int e = static_cast<int>(static_cast<long long>(job.n) * (i + 1) / job.chunks);
            if (b < e) (*job.fn)(b, e);
            ++finished;
        }
        std::lock_guard<std::mutex> lk(m_);
        job.done += finished;
    }

    void loop() {
        unsigned seen = 0;
        for (;;) {
            Job* job;
            {
                std::unique_lock<std::mutex> lk(m_);
                cv_.wait(lk, [&] { return generation_ != seen; });
                seen = generation_;
                job = job_;
                if (job == nullptr) continue;
                ++job->active;
            }
            work(*job);
            {
                std::lock_guard<std::mutex> lk(m_);
                --job->active;
            }
            done_cv_.notify_all();
        }
    }

    pid_t pid_;
    std::vector<std::thread> workers_;
    std::mutex job_mutex_, m_;
    std::condition_variable cv_, done_cv_;
    Job* job_ = nullptr;
    unsigned generation_ = 0;
};

int configured_threads() {
    if (const char* env = std::getenv("FFACCEL_NUM_THREADS")) {
        const int v = std::atoi(env);
        if (v > 0) return std::min(v, 256);
    }
    return std::max(1u, std::thread::hardware_concurrency());
}

Pool* pool() {
    static std::mutex m;
    static Pool* p = nullptr;
    std::lock_guard<std::mutex> lk(m);
    // A forked child inherits the pointer but not the threads: start a fresh pool.
    if (p == nullptr || p->pid() != getpid()) p = new Pool(configured_threads());
    return p;
}

}  // namespace

int num_threads() { return pool()->size(); }

void parallel_for(int n, const std::function<void(int, int)>& fn) {
    if (n <= 0) return;
    Pool* p = pool();
    if (p->size() == 1 || n == 1 || !p->try_run(n, fn)) fn(0, n);
}

}  // namespace ffaccel::cpu
