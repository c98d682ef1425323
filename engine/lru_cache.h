#pragma once
// Per-shape state of the backends (oneDNN primitive descriptors, primitives and reordered
// weights; cuDNN descriptors and chosen algorithms), least recently used first out past
// lru_cache_capacity() entries: a long-running process that meets ever new shapes (evaluating
// sequences of every length) keeps a bounded set. A reference from get() stays valid until
// `capacity` other keys have been inserted (an op holds it for its own call). Thread-safe.
#include <algorithm>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <utility>

namespace rmgait {

// Entries per cache: 256, or RMGAIT_PRIMITIVE_CACHE (at least 2), read once.
size_t lru_cache_capacity();

template <class Entry>
class LruCache {
 public:
  // The entry for `key`, made by make() (returning an Entry or a std::unique_ptr<Entry>) when
  // absent.
  template <class Make>
  Entry& get(const std::string& key, Make&& make) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = map_.find(key);
    if (it != map_.end()) {
      order_.splice(order_.begin(), order_, it->second.second);  // most recent first
      return *it->second.first;
    }
    std::unique_ptr<Entry> entry;
    if constexpr (std::is_same_v<std::decay_t<decltype(make())>, std::unique_ptr<Entry>>)
      entry = make();
    else
      entry = std::make_unique<Entry>(make());
    Entry& e = *entry;
    order_.push_front(key);
    map_.emplace(key, std::make_pair(std::move(entry), order_.begin()));
    while (map_.size() > lru_cache_capacity()) {
      map_.erase(order_.back());
      order_.pop_back();
    }
    return e;
  }
  size_t size() {
    std::lock_guard<std::mutex> lock(mu_);
    return map_.size();
  }

 private:
  std::mutex mu_;
  std::list<std::string> order_;
  std::unordered_map<std::string,
                     std::pair<std::unique_ptr<Entry>, std::list<std::string>::iterator>>
      map_;
};

}  // namespace rmgait
