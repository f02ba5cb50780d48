// GraphiQL on the same origin: queries and mutations over POST /api, subscriptions over /ws with
// the graphql-ws client. `?query=...` pre-fills the editor.
(function () {
  'use strict';
  var wsUrl = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws';
  var fetcher = GraphiQL.createFetcher({
    url: location.origin + '/api',
    subscriptionUrl: wsUrl,
    wsClient: graphqlWs.createClient({ url: wsUrl, lazy: true }),
    headers: { 'lacinia-tracing': 'true' },
  });
  var params = new URLSearchParams(location.search);
  var props = { fetcher: fetcher, defaultEditorToolsVisibility: true };
  if (params.get('query')) props.query = params.get('query');
  ReactDOM.createRoot(document.getElementById('graphiql')).render(
    React.createElement(GraphiQL, props),
  );
})();
